"""The ``workbench`` command line: what the AWS CLI cannot do against a Lambda Workbench server."""

__version__ = "0.1.0"
