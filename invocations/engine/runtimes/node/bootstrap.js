// A small Lambda Runtime API client for nodejs*.x, modelled on the official Node runtime:
// GET /invocation/next, call the handler (async or callback style), POST /response or /error;
// init failures go to /init/error (Runtime.ImportModuleError / Runtime.HandlerNotFound) and exit 1.
// Response streaming as the real runtime offers it: a handler wrapped in
// awslambda.streamifyResponse(async (event, responseStream, context) => ...) writes to a Writable
// whose bytes go out as one chunked POST /response with Lambda-Runtime-Function-Response-Mode:
// streaming; a failure after the first byte is reported in the error trailers (spec §9.4).
// awslambda.HttpResponseStream.from(stream, {statusCode, headers, cookies}) writes the
// http-integration prelude (JSON + 8 NUL bytes) that function URLs turn into status and headers.
// console.* lines are written as Lambda's Node runtime writes them:
// "<ISO time>\t<requestId>\t<LEVEL>\t<message>".
'use strict';

const http = require('http');
const path = require('path');
const util = require('util');
const fs = require('fs');
const { pathToFileURL } = require('url');
const { Writable } = require('stream');

const [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const PREFIX = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';

let currentRequestId = undefined;

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = 'response';
    return handler;
  },
  HttpResponseStream: class HttpResponseStream {
    static from(stream, prelude) {
      stream.setContentType(HTTP_INTEGRATION);
      stream.write(JSON.stringify(prelude || {}));
      stream.write(Buffer.alloc(8));
      return stream;
    }
  },
};

// The response stream of one invocation: the POST opens with the first write (so that
// setContentType can come first) and each write goes out as its own chunk.
function responseStream(requestId) {
  let req = null;
  let contentType = 'application/octet-stream';
  let settle;
  const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  function open() {
    if (req) return req;
    req = http.request({ host: apiHost, port: Number(apiPort), method: 'POST', agent,
      path: `${PREFIX}/invocation/${requestId}/response`,
      headers: { 'Content-Type': contentType, 'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked', Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body' } },
    (res) => { res.resume(); res.on('end', () => settle.resolve(res.statusCode)); });
    req.on('error', (e) => settle.reject(e));
    return req;
  }
  const stream = new Writable({
    write(chunk, encoding, callback) { open().write(chunk, callback); },
    final(callback) { open().end(); callback(); },
  });
  stream.setContentType = (value) => {
    if (req) throw new Error('setContentType must be called before the first write');
    contentType = value;
  };
  stream.started = () => req !== null;
  stream.fail = (error) => {
    const r = open();
    r.addTrailers({ 'Lambda-Runtime-Function-Error-Type': error.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(error)).toString('base64') });
    stream.destroy();
    r.end();
  };
  stream.done = done;
  return stream;
}

async function runStreamingHandler(handler, event, context, requestId) {
  const stream = responseStream(requestId);
  try {
    await handler(event, stream, context);
    if (!stream.writableEnded) stream.end();
    await stream.done;
  } catch (err) {
    const error = errorObject(err);
    console.error(`Invoke Error \t${JSON.stringify(error)}`);
    if (!stream.started()) {
      await request('POST', `/invocation/${requestId}/error`, JSON.stringify(error),
        { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': error.errorType });
      return;
    }
    stream.fail(error);
    await stream.done.catch(() => undefined);
  }
}

function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => {
      const message = util.format(...args).replace(/\n/g, '\r');
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${message}\n`);
    };
  }
}

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: Number(apiPort), method, path: PREFIX + urlPath, agent,
      headers: Object.assign({}, headers || {}, body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) }) },
    (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorObject(err) {
  if (err instanceof Error) {
    return { errorType: err.name || 'Error', errorMessage: err.message,
      trace: typeof err.stack === 'string' ? err.stack.split('\n') : [] };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

async function initError(errorType, error) {
  const body = JSON.stringify(Object.assign(errorObject(error), { errorType }));
  console.error(`${errorType}: ${error && error.message ? error.message : error}`);
  await request('POST', '/init/error', body, { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': errorType });
  process.exit(1);
}

class ImportModuleError extends Error { constructor(m) { super(m); this.name = 'Runtime.ImportModuleError'; } }
class HandlerNotFound extends Error { constructor(m) { super(m); this.name = 'Runtime.HandlerNotFound'; } }
class MalformedHandlerName extends Error { constructor(m) { super(m); this.name = 'Runtime.MalformedHandlerName'; } }

async function loadHandler(handlerString) {
  const match = /^([^.]*)\.(.*)$/.exec(path.basename(handlerString));
  if (!match) throw new MalformedHandlerName(`Bad handler ${handlerString}`);
  const moduleRoot = path.join(taskRoot, path.dirname(handlerString));
  const [, moduleName, handlerPath] = match;
  let mod;
  const base = path.join(moduleRoot, moduleName);
  const candidates = [base + '.js', base + '.mjs', base + '.cjs', base];
  const file = candidates.find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  if (!file) throw new ImportModuleError(`Error: Cannot find module '${moduleName}'`);
  try {
    if (file.endsWith('.mjs')) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (e) {
        if (e && e.code === 'ERR_REQUIRE_ESM') mod = await import(pathToFileURL(file).href);
        else throw e;
      }
    }
  } catch (e) {
    if (e instanceof SyntaxError) { e.name = 'Runtime.UserCodeSyntaxError'; throw e; }
    throw new ImportModuleError(`${e && e.name ? e.name : 'Error'}: ${e && e.message ? e.message : e}`);
  }
  let fn = mod;
  for (const part of handlerPath.split('.')) fn = fn == null ? undefined : fn[part];
  if (typeof fn !== 'function' && mod && mod.default) {
    fn = mod.default;
    for (const part of handlerPath.split('.')) fn = fn == null ? undefined : fn[part];
  }
  if (typeof fn !== 'function') throw new HandlerNotFound(`${handlerString} is undefined or not exported`);
  return fn;
}

function makeContext(headers, deadlineMs, callbackWaits) {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: callbackWaits,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: headers['lambda-runtime-cognito-identity'] ? JSON.parse(headers['lambda-runtime-cognito-identity']) : undefined,
    clientContext: headers['lambda-runtime-client-context'] ? JSON.parse(headers['lambda-runtime-client-context']) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
}

function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err); else resolve(result);
    };
    context.done = callback;
    context.succeed = (r) => callback(null, r);
    context.fail = (e) => callback(e || new Error('handled'));
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === 'function') returned.then((r) => callback(null, r), (e) => callback(e));
    } catch (e) {
      callback(e);
    }
  });
}

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER);
  } catch (e) {
    await initError(e.name && e.name.startsWith('Runtime.') ? e.name : 'Runtime.ImportModuleError', e);
    return;
  }
  for (;;) {
    const next = await request('GET', '/invocation/next');
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    currentRequestId = requestId;
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    const context = makeContext(next.headers, Number(next.headers['lambda-runtime-deadline-ms']), true);
    let event;
    try {
      event = JSON.parse(next.body.toString('utf8'));
    } catch (e) {
      const body = JSON.stringify({ errorType: 'Runtime.UnmarshalError', errorMessage: e.message, trace: [] });
      await request('POST', `/invocation/${requestId}/error`, body, { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': 'Runtime.UnmarshalError' });
      continue;
    }
    if (handler[STREAMING] === 'response') {
      await runStreamingHandler(handler, event, context, requestId);
      continue;
    }
    try {
      const result = await runHandler(handler, event, context);
      const body = result === undefined ? 'null' : JSON.stringify(result);
      await request('POST', `/invocation/${requestId}/response`, body, { 'Content-Type': 'application/json' });
    } catch (err) {
      const error = errorObject(err);
      console.error(`Invoke Error \t${JSON.stringify(error)}`);
      await request('POST', `/invocation/${requestId}/error`, JSON.stringify(error),
        { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': error.errorType });
    }
  }
}

main().catch((e) => {
  process.stderr.write(`runtime client failure: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
