"""Function URLs (spec §7): routing by host or path, payload format 2.0, response mapping, CORS.

``routing``, ``payload``, ``responses`` and ``cors`` are pure functions (table-driven tests in
tests/urls_function/); ``middleware`` and ``views`` connect them to Django and the invoke service.
"""
