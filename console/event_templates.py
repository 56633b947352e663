"""Event templates: the shapes AWS services send to functions, as the Lambda console offers them.

Each template is JSON text that may contain placeholders (console/placeholders.py). Where a field
is a number in AWS's shape, the placeholder stands bare ({{epoch_ms}}) so the resolved event keeps
the type. The CloudWatch Logs template carries what CloudWatch really sends: a gzipped,
base64-encoded DATA_MESSAGE.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
# A bare (unquoted) placeholder in the output: json.dumps would quote it, so it is swapped in after.
_BARE = {"__EPOCH_MS__": "{{epoch_ms}}", "__RANDOM_INT__": "{{random_int}}"}


@dataclass(frozen=True)
class EventTemplate:
    key: str
    label: str
    body: str


def _dump(value: Any) -> str:
    text = json.dumps(value, indent=2)
    for sentinel, placeholder in _BARE.items():
        text = text.replace(f'"{sentinel}"', placeholder)
    return text


def _cloudwatch_logs_data() -> str:
    message = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "/aws/lambda/example",
        "logStream": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "subscriptionFilters": ["example-filter"],
        "logEvents": [
            {"id": "37835297612297398367458916392836572830492834", "timestamp": 1704067200000, "message": "[INFO] first log line"},
            {"id": "37835297612297398367458916392836572830492835", "timestamp": 1704067200100, "message": "[ERROR] second log line"},
        ],
    }
    # mtime=0: the same bytes on every start, so the template text is stable.
    return base64.b64encode(gzip.compress(json.dumps(message).encode(), mtime=0)).decode()


def _http_headers() -> dict[str, str]:
    return {"accept": "application/json", "content-type": "application/json", "host": "example.execute-api.us-east-1.amazonaws.com", "user-agent": "curl/8.5.0"}


def _api_gateway_rest() -> dict[str, Any]:
    return {
        "resource": "/items/{id}", "path": "/items/42", "httpMethod": "POST",
        "headers": _http_headers(), "multiValueHeaders": {k: [v] for k, v in _http_headers().items()},
        "queryStringParameters": {"verbose": "true"}, "multiValueQueryStringParameters": {"verbose": ["true"]},
        "pathParameters": {"id": "42"}, "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "1234567890", "resourceId": "abc123", "stage": "prod",
            "requestId": "{{uuid}}", "requestTime": "{{now}}", "requestTimeEpoch": "__EPOCH_MS__",
            "httpMethod": "POST", "path": "/prod/items/42", "protocol": "HTTP/1.1", "resourcePath": "/items/{id}",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
        },
        "body": "{\"name\": \"widget\"}", "isBase64Encoded": False,
    }  # fmt: skip


def _http_api(domain: str, api_id: str) -> dict[str, Any]:
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": "/items/42", "rawQueryString": "verbose=true",
        "cookies": ["session=abc"], "headers": {**_http_headers(), "host": domain},
        "queryStringParameters": {"verbose": "true"},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": api_id, "domainName": domain, "domainPrefix": api_id,
            "http": {"method": "POST", "path": "/items/42", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "{{uuid}}", "routeKey": "$default", "stage": "$default", "time": "{{now}}", "timeEpoch": "__EPOCH_MS__",
        },
        "body": "{\"name\": \"widget\"}", "isBase64Encoded": False,
    }  # fmt: skip


def _s3(event_name: str, with_object_size: bool) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": "uploads/report.csv", "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"}
    if with_object_size:
        obj["size"] = 1024
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": "{{now}}", "eventName": event_name,
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/abcdefghijklmno"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
               "bucket": {"name": "example-bucket", "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": "arn:aws:s3:::example-bucket"},
               "object": obj},
    }]}  # fmt: skip


def _templates() -> list[EventTemplate]:
    t: list[tuple[str, str, Any]] = [
        ("hello-world", "Hello world", {"key1": "value1", "key2": "value2", "key3": "value3"}),
        ("apigateway-rest", "API Gateway REST API (proxy)", _api_gateway_rest()),
        ("apigateway-http", "API Gateway HTTP API (payload 2.0)", _http_api("example.execute-api.us-east-1.amazonaws.com", "example")),
        ("function-url", "Lambda function URL", _http_api("abcdefghij.lambda-url.us-east-1.on.aws", "abcdefghij")),
        ("alb", "Application Load Balancer", {
            "requestContext": {"elb": {"targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/example/0123456789abcdef"}},
            "httpMethod": "GET", "path": "/health", "queryStringParameters": {"q": "1"},
            "headers": {"host": "example.elb.amazonaws.com", "x-amzn-trace-id": "Root=1-{{uuid}}", "x-forwarded-for": "203.0.113.7"},
            "body": "", "isBase64Encoded": False}),
        ("s3-put", "S3 Put (ObjectCreated)", _s3("ObjectCreated:Put", True)),
        ("s3-delete", "S3 Delete (ObjectRemoved)", _s3("ObjectRemoved:Delete", False)),
        ("sqs", "SQS receive message", {"Records": [{
            "messageId": "{{uuid}}", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...", "body": "Hello from SQS!",
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1704067200000", "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1704067200001"},
            "messageAttributes": {}, "md5OfBody": "7b270e59b47ff90a553787216d55d91d", "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:example-queue", "awsRegion": REGION}]}),
        ("sns", "SNS notification", {"Records": [{
            "EventVersion": "1.0", "EventSubscriptionArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:example-topic:{{{{uuid}}}}", "EventSource": "aws:sns",
            "Sns": {"SignatureVersion": "1", "Timestamp": "{{now}}", "Signature": "EXAMPLE", "SigningCertUrl": "EXAMPLE",
                    "MessageId": "{{uuid}}", "Message": "Hello from SNS!", "MessageAttributes": {}, "Type": "Notification",
                    "UnsubscribeUrl": "EXAMPLE", "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:example-topic", "Subject": "TestInvoke"}}]}),
        ("dynamodb-stream", "DynamoDB stream", {"Records": [{
            "eventID": "1", "eventVersion": "1.1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": REGION,
            "dynamodb": {"ApproximateCreationDateTime": 1704067200, "Keys": {"Id": {"N": "101"}},
                         "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                         "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/example/stream/2024-01-01T00:00:00.000"}]}),
        ("kinesis", "Kinesis data stream", {"Records": [{
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                        "data": base64.b64encode(b"Hello, this is a test.").decode(), "approximateArrivalTimestamp": 1704067200.123},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/lambda-role", "awsRegion": REGION,
            "eventSourceARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/example"}]}),
        ("eventbridge", "EventBridge (custom event)", {
            "version": "0", "id": "{{uuid}}", "detail-type": "OrderPlaced", "source": "com.example.orders", "account": ACCOUNT,
            "time": "{{now}}", "region": REGION, "resources": [], "detail": {"orderId": "__RANDOM_INT__", "amount": 42.5}}),
        ("scheduled", "EventBridge scheduled event", {
            "version": "0", "id": "{{uuid}}", "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT,
            "time": "{{now}}", "region": REGION, "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/every-5-minutes"], "detail": {}}),
        ("cloudwatch-logs", "CloudWatch Logs subscription", {"awslogs": {"data": _cloudwatch_logs_data()}}),
        ("cognito-pre-signup", "Cognito user pool pre sign-up", {
            "version": "1", "triggerSource": "PreSignUp_SignUp", "region": REGION, "userPoolId": f"{REGION}_EXAMPLE",
            "userName": "jane", "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
            "request": {"userAttributes": {"email": "jane@example.com"}, "validationData": None},
            "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}}),
        ("kafka", "Amazon MSK / self-managed Kafka", {
            "eventSource": "aws:kafka", "eventSourceArn": f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/example/abc",
            "bootstrapServers": "b-1.example.kafka.us-east-1.amazonaws.com:9092",
            "records": {"mytopic-0": [{"topic": "mytopic", "partition": 0, "offset": 15, "timestamp": "__EPOCH_MS__",
                                       "timestampType": "CREATE_TIME", "key": base64.b64encode(b"key").decode(),
                                       "value": base64.b64encode(b'{"hello": "kafka"}').decode(),
                                       "headers": [{"headerKey": [104, 101, 97, 100, 101, 114]}]}]}}),
        ("rabbitmq", "Amazon MQ for RabbitMQ", {
            "eventSource": "aws:rmq", "eventSourceArn": f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:example:b-{{{{uuid}}}}",
            "rmqMessagesByQueue": {"example::/": [{
                "basicProperties": {"contentType": "application/json", "deliveryMode": 1, "priority": 34, "headers": {}, "timestamp": None,
                                    "messageId": "{{uuid}}", "userId": "AIDACKCEVSQ6C2EXAMPLE", "bodySize": 80},
                "redelivered": False, "data": base64.b64encode(b'{"hello": "rabbitmq"}').decode()}]}}),
        ("ses", "SES email receiving", {"Records": [{
            "eventSource": "aws:ses", "eventVersion": "1.0",
            "ses": {"mail": {"timestamp": "{{now}}", "source": "janedoe@example.com", "messageId": "{{uuid}}",
                             "destination": ["johndoe@example.com"], "headersTruncated": False,
                             "commonHeaders": {"from": ["Jane Doe <janedoe@example.com>"], "to": ["johndoe@example.com"], "subject": "Test Subject"}},
                    "receipt": {"timestamp": "{{now}}", "processingTimeMillis": 574, "recipients": ["johndoe@example.com"],
                                "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                                "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                                "action": {"type": "Lambda", "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:example", "invocationType": "Event"}}}}]}),
        ("cloudformation-create", "CloudFormation custom resource (Create)", {
            "RequestType": "Create", "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:example",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/EXAMPLE",
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/example/{{{{uuid}}}}", "RequestId": "{{uuid}}",
            "LogicalResourceId": "MyCustomResource", "ResourceType": "Custom::Example", "ResourceProperties": {"ServiceToken": "...", "Key": "Value"}}),
        ("alexa-intent", "Alexa Skills Kit intent", {
            "version": "1.0", "session": {"new": False, "sessionId": "amzn1.echo-api.session.{{uuid}}", "application": {"applicationId": "amzn1.ask.skill.example"},
                                          "attributes": {}, "user": {"userId": "amzn1.ask.account.example"}},
            "request": {"type": "IntentRequest", "requestId": "amzn1.echo-api.request.{{uuid}}", "timestamp": "{{now}}", "locale": "en-US",
                        "intent": {"name": "GetWeather", "slots": {"City": {"name": "City", "value": "Seattle"}}}}}),
        ("lex-v2", "Amazon Lex V2 fulfillment", {
            "messageVersion": "1.0", "invocationSource": "FulfillmentCodeHook", "inputMode": "Text", "responseContentType": "text/plain; charset=utf-8",
            "sessionId": "{{uuid}}", "inputTranscript": "book a hotel in Paris",
            "bot": {"id": "EXAMPLEID", "name": "BookTrip", "aliasId": "TSTALIASID", "localeId": "en_US", "version": "DRAFT"},
            "interpretations": [{"intent": {"name": "BookHotel", "slots": {"City": {"value": {"originalValue": "Paris", "interpretedValue": "Paris", "resolvedValues": ["Paris"]}}},
                                            "state": "ReadyForFulfillment", "confirmationState": "None"}}],
            "sessionState": {"intent": {"name": "BookHotel", "state": "ReadyForFulfillment", "confirmationState": "None", "slots": {}}, "sessionAttributes": {}}}),
        ("config-rule", "AWS Config rule", {
            "invokingEvent": json.dumps({"configurationItem": {"configurationItemCaptureTime": "2024-01-01T00:00:00.000Z", "awsAccountId": ACCOUNT,
                                                               "configurationItemStatus": "OK", "resourceId": "i-0123456789abcdef0",
                                                               "resourceType": "AWS::EC2::Instance", "configuration": {"instanceType": "t3.micro"}},
                                         "messageType": "ConfigurationItemChangeNotification"}),
            "ruleParameters": "{\"desiredInstanceType\": \"t3.micro\"}", "resultToken": "{{uuid}}", "eventLeftScope": False,
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/config-role", "configRuleArn": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-0123",
            "configRuleName": "desired-instance-type", "configRuleId": "config-rule-0123", "accountId": ACCOUNT, "version": "1.0"}),
        ("placeholders", "Placeholders demo", {"id": "{{uuid}}", "sentAt": "{{now}}", "epochMs": "__EPOCH_MS__", "lucky": "__RANDOM_INT__"}),
    ]  # fmt: skip
    return [EventTemplate(key, label, _dump(body)) for key, label, body in t]


TEMPLATES: tuple[EventTemplate, ...] = tuple(_templates())
BY_KEY: dict[str, EventTemplate] = {template.key: template for template in TEMPLATES}
DEFAULT = BY_KEY["hello-world"]
