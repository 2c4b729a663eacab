// Viewer request on /media/*, the CDN's one rule for media (the same in Python: media_key in
// functions/shared/media_token.py; both run tests/unit/media_token_vectors.json):
// - /media/public/<key>: served to anyone, the key in a strict grammar (no `..`, `%`, `\`, `//`);
// - /media/s/<kid>.<expires>.<signature>/hls/<video_id>/<file>: the token is checked (HMAC-SHA256 over
//   "skyreel-media-v1|<kid>|<expires>|hls/<video_id>/" with the key <kid> from the key value store), then
//   stripped, so the S3 origin sees hls/<video_id>/<file> and every token shares one cached copy;
// - anything else: 403. There is no unsigned path to hls/.
import cf from 'cloudfront';
import crypto from 'crypto';

const kvs = cf.kvs();
const MEDIA = '/media/';
const SEGMENT = '[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}';
const PATH = SEGMENT + '(?:/' + SEGMENT + ')*';
const PUBLIC = new RegExp('^public/' + PATH + '$');
const SIGNED = new RegExp('^s/([^/]*)/hls/([A-Za-z0-9_-]{1,64})/(' + PATH + ')$');
const TOKEN = /^([A-Za-z0-9_-]{1,16})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

function deny() {
    return { statusCode: 403, statusDescription: 'Forbidden' };
}

function origin(request, key) {
    request.uri = '/' + key;
    request.querystring = {}; // nothing of the viewer's query reaches S3
    return request;
}

// Constant time for equal lengths (both are 43 characters once the token's grammar matched).
function same(a, b) {
    if (a.length !== b.length) { return false; }
    let diff = 0;
    for (let i = 0; i < a.length; i++) { diff |= a.charCodeAt(i) ^ b.charCodeAt(i); }
    return diff === 0;
}

async function handler(event) {
    const request = event.request;
    if (request.uri.indexOf(MEDIA) !== 0) { return deny(); }
    const path = request.uri.substring(MEDIA.length);
    if (PUBLIC.test(path)) { return origin(request, path); }
    const signed = SIGNED.exec(path);
    if (signed === null) { return deny(); }
    const token = TOKEN.exec(signed[1]);
    if (token === null) { return deny(); }
    const kid = token[1];
    const expires = token[2];
    let key;
    try {
        key = await kvs.get(kid);
    } catch (err) {
        return deny(); // unknown key id
    }
    const scope = 'hls/' + signed[2] + '/';
    const expected = crypto.createHmac('sha256', key)
        .update('skyreel-media-v1|' + kid + '|' + expires + '|' + scope)
        .digest('base64url');
    if (!same(token[3], expected)) { return deny(); }
    if (Date.now() / 1000 >= parseInt(expires, 10)) { return deny(); }
    return origin(request, scope + signed[3]);
}
