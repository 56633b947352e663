import time


def handler(event, context):
    return event


def sleep_handler(event, context):
    time.sleep(float((event or {}).get("seconds", 2)))
    return event
