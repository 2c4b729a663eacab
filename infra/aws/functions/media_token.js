// Viewer request on /media/s/*: check the playback token in the path, then strip /media/s/<token> so the
// S3 origin sees hls/<video_id>/... and every token shares one cached copy. 403 otherwise.
// The same check in Python: functions/shared/media_token.py; both run tests/unit/media_token_vectors.json.
import cf from 'cloudfront';
import crypto from 'crypto';

const kvs = cf.kvs();
const PREFIX = '/media/s/';
const SEGMENT = '[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}';
const SIGNED = new RegExp('^([^/]*)/hls/([A-Za-z0-9_-]{1,64})/(' + SEGMENT + '(?:/' + SEGMENT + ')*)$');
const TOKEN = /^([A-Za-z0-9_-]{1,16})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

function deny() {
    return { statusCode: 403, statusDescription: 'Forbidden' };
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
    if (request.uri.indexOf(PREFIX) !== 0) { return deny(); }
    const path = SIGNED.exec(request.uri.substring(PREFIX.length));
    if (path === null) { return deny(); }
    const token = TOKEN.exec(path[1]);
    if (token === null) { return deny(); }
    const kid = token[1];
    const expires = token[2];
    let key;
    try {
        key = await kvs.get(kid);
    } catch (err) {
        return deny(); // unknown key id
    }
    const scope = 'hls/' + path[2] + '/';
    const expected = crypto.createHmac('sha256', key)
        .update('skyreel-media-v1|' + kid + '|' + expires + '|' + scope)
        .digest('base64url');
    if (!same(token[3], expected)) { return deny(); }
    if (Date.now() / 1000 >= parseInt(expires, 10)) { return deny(); }
    request.uri = '/' + scope + path[3];
    request.querystring = {};
    return request;
}
