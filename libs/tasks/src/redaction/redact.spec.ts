import { describe, expect, it } from 'vitest';
import { REDACTED, UNPARSABLE_URL, describeError, isSecretName, redactError, redactSecrets, redactUrl, urlProblem } from './redact.js';
import { parseConnectionUrl } from './connection-url.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';

// The secret of each row is "s3cr3t-…": whatever the form, it must not survive.
const SECRET = /s3cr3t/i;

describe('redactUrl', () => {
  it.each([
    // userinfo
    ['redis://:s3cr3t-a@cache:6379', 'redis://:***@cache:6379'],
    ['redis://default:s3cr3t-b@cache:6379/2', 'redis://default:***@cache:6379/2'],
    ['rediss://u:s3cr3t%2Fc%2Bd%3D@[::1]:6380/0?family=6', 'rediss://u:***@[::1]:6380/0?family=6'],
    ['postgres://app:s3cr3t-e@db.internal:5432/tasks?sslmode=verify-full', 'postgres://app:***@db.internal:5432/tasks?sslmode=verify-full'],
    // an '@' in the password, written raw: the last '@' ends the user info
    ['redis://:s3cr3t@x@cache:6379', 'redis://:***@cache:6379'],
    // query parameters, any case, any name holding password/pass/pwd/secret/token
    ['redis://cache:6401/?password=s3cr3t-f', 'redis://cache:6401/?password=***'],
    ['redis://cache:6401?PassWord=s3cr3t-g&db=2', 'redis://cache:6401?PassWord=***&db=2'],
    ['postgres://u@db/tasks?password=s3cr3t-h', 'postgres://u@db/tasks?password=***'],
    ['postgres://u@db/tasks?sslmode=require&pass=s3cr3t-i&PWD=s3cr3t-j', 'postgres://u@db/tasks?sslmode=require&pass=***&PWD=***'],
    ['https://api.example/v1?client_secret=s3cr3t-k&access_token=s3cr3t-l&Token=s3cr3t-m', 'https://api.example/v1?client_secret=***&access_token=***&Token=***'],
    ['postgres://u@db/tasks?sslpassword=s3cr3t-n', 'postgres://u@db/tasks?sslpassword=***'],
    // a percent-encoded parameter name is still the parameter
    ['redis://cache/?pass%77ord=s3cr3t-o', 'redis://cache/?pass%77ord=***'],
    // both at once
    ['redis://u:s3cr3t-p@cache/?token=s3cr3t-q', 'redis://u:***@cache/?token=***'],
    // keyword-form Postgres DSNs, quoted values too
    ['host=db port=5432 user=app password=s3cr3t-r dbname=tasks', 'host=db port=5432 user=app password=*** dbname=tasks'],
    ["host=db password='s3cr3t with spaces \\' and quote' dbname=tasks", 'host=db password=*** dbname=tasks'],
    ['host=db password = s3cr3t\\ escaped dbname=tasks', 'host=db password = *** dbname=tasks'],
    ["password='s3cr3t-unterminated", 'password=***'],
    ['PASSWORD=s3cr3t-s sslpassword=s3cr3t-t', 'PASSWORD=*** sslpassword=***'],
    // nothing to hide: shown as written
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['redis://user@cache:6379/1?family=6', 'redis://user@cache:6379/1?family=6'],
    ['postgres://postgres@127.0.0.1:5432/tasks_test', 'postgres://postgres@127.0.0.1:5432/tasks_test'],
    // a request's path and query (the api's logs)
    ['/users/u1/events?access_token=s3cr3t-u&x=1', '/users/u1/events?access_token=***&x=1'],
    ['/uploads/abc/process?wait=true', '/uploads/abc/process?wait=true'],
  ])('%s → %s', (input, shown) => {
    expect(redactUrl(input)).toBe(shown);
    expect(redactUrl(input)).not.toMatch(SECRET);
  });

  it.each([
    // a raw '/', '?' or '#' in the password (base64 secrets): parsers end the host there and take the password for a host, port or path
    'redis://:ab/s3cr3t+ef=@cache:6379',
    'redis://:12/s3cr3t@cache:6379',
    'redis://user:12/s3cr3t@cache',
    'redis://:12?s3cr3t@cache',
    'redis://:12#s3cr3t@cache',
    'postgres://app:ab#s3cr3t?@db:5432/tasks',
    'postgres://app:s3cr3t/x@db/tasks?password=s3cr3t',
    // not URLs at all
    'redis://:s3cr3t@[not-a-host',
    'redis://:s3cr3t@cache:99999',
    's3cr3t',
    '',
  ])('never echoes an unparsable value: %s', (input) => {
    expect(redactUrl(input)).toBe(UNPARSABLE_URL);
  });

  it('masks with the marker given', () => {
    expect(redactUrl('/events?access_token=s3cr3t', { mask: '[redacted]' })).toBe('/events?access_token=[redacted]');
    expect(redactUrl('redis://:s3cr3t@cache', { mask: '[redacted]' })).toBe('redis://:[redacted]@cache');
    expect(REDACTED).toBe('***');
  });
});

describe('isSecretName', () => {
  it.each(['password', 'PASSWORD', 'pass', 'pwd', 'secret', 'token', 'access_token', 'client_secret', 'sslpassword', 'passphrase'])('%s is secret', (name) => {
    expect(isSecretName(name)).toBe(true);
  });
  it.each(['user', 'host', 'db', 'family', 'sslmode', 'wait', 'dbname'])('%s is not', (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});

describe('urlProblem', () => {
  it.each([
    ['redis://:ab/cd+ef=@cache:6379', "it has a '/' in the password? percent-encode it as %2F"],
    ['postgres://app:ab#cd@db/tasks', "it has a '#' in the password? percent-encode it as %23"],
    ['postgres://app:abcd?ef@db/tasks', "it has a '?' in the password? percent-encode it as %3F"],
    ['postgres://app:ab#cd?ef/@db/tasks', "it has a '#' in the password? percent-encode it as %23"],
    ['redis://us/er:pw@cache', "it has a '/' in the user name? percent-encode it as %2F"],
    ['redis://:ab%zz@cache', "it has a '%' in the password that is not followed by two hex digits? percent-encode '%' as %25"],
    ['host=db password=x dbname=tasks', 'it is in keyword form (host=… password=…), not a URL'],
    ['cache:6379', 'it does not start with a scheme such as redis:// or postgres://'],
    ['127.0.0.1', 'it does not start with a scheme such as redis:// or postgres://'],
    ['redis://:pw@[not-a-host', 'its host is not valid'],
    ['redis://cache:99999', 'its port is not a number from 0 to 65535'],
    ['redis://cache:63x9', 'its port is not a number from 0 to 65535'],
    ['', 'it is empty'],
  ])('%s: %s', (input, problem) => {
    expect(urlProblem(input)).toBe(problem);
  });

  it.each(['redis://127.0.0.1:6379', 'redis://:p%2Fw@cache:6379/2', 'rediss://[::1]:6380', 'postgres://u:p@db/tasks?password=x', 'postgres:///tasks?host=/var/run/postgresql'])(
    '%s has none',
    (input) => {
      expect(urlProblem(input)).toBeUndefined();
    },
  );
});

describe('parseConnectionUrl', () => {
  it('throws TasksConfigurationError naming the variable and the problem, never the value', () => {
    const attempt = () => parseConnectionUrl('redis://:ab/s3cr3t=@cache:6379', 'REDIS_URL', 'a URL such as redis://127.0.0.1:6379');
    expect(attempt).toThrow(TasksConfigurationError);
    expect(attempt).toThrow(/^REDIS_URL is not a valid URL \(it has a '\/' in the password\? percent-encode it as %2F\)/);
    expect(attempt).not.toThrow(SECRET);
  });

  it('returns the parsed URL', () => {
    expect(parseConnectionUrl('redis://:pw@cache:6379/2', 'REDIS_URL', 'a URL').port).toBe('6379');
  });
});

describe('redactSecrets', () => {
  it.each([
    // what drivers and Node put in messages and stacks
    ["TypeError: Invalid URL { code: 'ERR_INVALID_URL', input: 'redis://:ab/s3cr3t+ef=@127.0.0.1:6401' }"],
    ['Cannot connect to postgres://app:s3cr3t-1@db:5432/tasks: refused'],
    ['at redis://cache:6401/?password=s3cr3t-2 (connect ECONNREFUSED)'],
    ['connection string host=db password=s3cr3t-3 dbname=tasks failed'],
    ["config { password: 's3cr3t-4', host: 'db' }"],
    ['{"password":"s3cr3t-5","host":"db"}'],
    ['(redis://user:12/s3cr3t@cache)'],
  ])('masks credentials in free text: %s', (text) => {
    expect(redactSecrets(text)).not.toMatch(SECRET);
  });

  it('masks the secrets of the URLs given, in every encoding, wherever they appear', () => {
    const password = 'S3cr3t/ab+cd=';
    const url = `redis://:${encodeURIComponent(password)}@cache:6379`;
    const text = `WRONGPASS for ${password}; sent ${encodeURIComponent(password)}; echoed ${url}`;
    const shown = redactSecrets(text, url);
    expect(shown).not.toMatch(SECRET);
    expect(shown).toContain('WRONGPASS');
  });

  it('masks the secret of an unparsable URL given, and the URL itself', () => {
    const url = 'redis://:ab/S3cr3t+ef=@cache:6379';
    expect(redactSecrets(`input: '${url}', password ab/S3cr3t+ef=`, url)).not.toMatch(SECRET);
  });

  it('masks query and keyword secrets of the sources given', () => {
    const text = 'sent S3cr3t-q1 and S3cr3t-k1 and S3cr3t k2';
    expect(redactSecrets(text, 'redis://cache/?password=S3cr3t-q1', "host=db password=S3cr3t-k1", "password='S3cr3t k2'")).not.toMatch(SECRET);
  });

  it.each([
    ['Cannot reach Redis at redis://:s3cr3t@127.0.0.1:6379: it refused', 'Cannot reach Redis at redis://:***@127.0.0.1:6379: it refused'],
    ['at redis://127.0.0.1:6379/?password=s3cr3t: refused.', 'at redis://127.0.0.1:6379/?password=***: refused.'],
    ['(see redis://u:ab/s3cr3t@cache).', '(see redis://u:***@cache).'],
    ['input: redis://:ab/s3cr3t+ef=@127.0.0.1:6401, code', 'input: redis://:***@127.0.0.1:6401, code'],
  ])('keeps the sentence around a URL: %s', (text, shown) => {
    expect(redactSecrets(text)).toBe(shown);
  });

  it('leaves text without credentials as it is', () => {
    const text = 'connect ECONNREFUSED 127.0.0.1:6379 at redis://127.0.0.1:6379 (see https://www.npmjs.com/package/@nestjs/core)';
    expect(redactSecrets(text, 'redis://127.0.0.1:6379', undefined)).toBe(text);
  });

  it('does not search for passwords too short to tell from ordinary text', () => {
    expect(redactSecrets('a message', 'redis://:a@cache')).toBe('a message');
  });
});

describe('redactError', () => {
  it('scrubs the message, the stack, string properties and causes of an error, in place', () => {
    const url = 'postgres://app:ab#S3cr3t?@db/tasks';
    const cause = Object.assign(new TypeError(`Invalid URL ${url}`), { input: url });
    const error = new Error(`boot failed for ${url}`, { cause });
    redactError(error, url);
    expect(error.message).not.toMatch(SECRET);
    expect(error.stack).not.toMatch(SECRET);
    expect(cause.message).not.toMatch(SECRET);
    expect(cause.input).not.toMatch(SECRET);
    expect(cause.stack).not.toMatch(SECRET);
  });

  it('masks properties named like a secret, strings in arrays, and the arguments of a failed AUTH', () => {
    const url = 'redis://:S3cr3t-args@cache:6379';
    const error = Object.assign(new Error('ReplyError: WRONGPASS'), {
      command: { name: 'auth', args: ['default', 'S3cr3t-auth'] },
      options: { password: 'S3cr3t-prop', hosts: [url] },
    });
    redactError(error);
    expect(JSON.stringify({ command: error.command, options: error.options })).not.toMatch(SECRET);
    expect(error.command.args).toEqual(['***', '***']);
  });

  it('survives values that are not errors and cycles', () => {
    const error = new Error('loop') as Error & { self?: unknown };
    error.self = error;
    error.cause = error;
    expect(() => redactError(error)).not.toThrow();
    expect(() => redactError('plain string')).not.toThrow();
  });
});

describe('describeError', () => {
  it('shows the stack of an error thrown by a cron handler or a driver, with the URLs it quotes masked', () => {
    const url = 'redis://:S3cr3t-stack@cache:6379/?password=S3cr3t-query';
    const text = describeError(new Error(`cannot reach ${url} (user=app password=S3cr3t-kw)`), url);
    expect(text).toMatch(/^Error: cannot reach /);
    expect(text).toContain('redact.spec.ts');
    expect(text).not.toMatch(SECRET);
    expect(describeError('a plain reason')).toBe('a plain reason');
  });
});
