// Runs the CloudFront Function in infra/aws/functions/media_token.js under node against the test vectors:
// CloudFront's built-in modules are stubbed (`cloudfront`: a key value store holding the vectors' keys;
// `crypto`: node's), the clock is the vectors' `now`. Prints one result per case as JSON.
// Usage: node media_token_harness.mjs <function.js> <vectors.json>
import { readFileSync } from 'node:fs';
import nodeCrypto from 'node:crypto';
import vm from 'node:vm';

const [functionPath, vectorsPath] = process.argv.slice(2);
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'));
const modules = {
    cloudfront: {
        kvs: () => ({
            get: async (key) => {
                if (!Object.prototype.hasOwnProperty.call(vectors.keys, key)) {
                    throw new Error('KeyNotFound'); // what CloudFront's kvs.get does for a missing key
                }
                return vectors.keys[key];
            },
        }),
    },
    crypto: { createHmac: nodeCrypto.createHmac },
};
let imported = 0;
const source = readFileSync(functionPath, 'utf8').replace(
    /^import (\w+) from '([\w-]+)';$/gm,
    (line, name, module) => {
        if (!(module in modules)) { throw new Error(`unknown CloudFront module ${module}`); }
        imported += 1;
        return `const ${name} = __modules[${JSON.stringify(module)}];`;
    },
);
if (imported !== 2) { throw new Error('expected the function to import cloudfront and crypto'); }
const context = vm.createContext({ __modules: modules, console });
vm.runInContext(`Date.now = function () { return ${vectors.now * 1000}; };`, context);
const handler = vm.runInContext(`${source}\n;handler`, context);

const results = [];
for (const c of vectors.cases) {
    const event = {
        version: '1.0',
        context: { eventType: 'viewer-request' },
        viewer: { ip: '198.51.100.7' },
        request: {
            method: 'GET',
            uri: c.uri,
            querystring: { x: { value: '1' } },
            headers: { host: { value: 'd111.cloudfront.net' } },
            cookies: {},
        },
    };
    const out = await handler(event);
    results.push(
        out.statusCode !== undefined
            ? { name: c.name, status: out.statusCode }
            : { name: c.name, status: 200, origin_uri: out.uri, querystring: out.querystring },
    );
}
process.stdout.write(JSON.stringify(results));
