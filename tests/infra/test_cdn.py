"""CloudFront: the web bucket by default, the API under its prefixes, media public and signed."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from infra.model import Cors
from tests.infra.conftest import Synthesized
from tests.infra.helpers import logical_id, resources

pytestmark = pytest.mark.infra

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def distribution(s: Synthesized) -> dict[str, Any]:
    config: dict[str, Any] = next(iter(resources(s.template, "AWS::CloudFront::Distribution").values()))[
        "Properties"
    ]["DistributionConfig"]
    return config


def behaviors(s: Synthesized) -> dict[str, dict[str, Any]]:
    return {b["PathPattern"]: b for b in distribution(s)["CacheBehaviors"]}


def origin(s: Synthesized, origin_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in distribution(s)["Origins"] if o["Id"] == origin_id)
    return found


def test_one_distribution_serving_the_web_bucket(synthesized: Synthesized) -> None:
    config = distribution(synthesized)
    assert config["DefaultRootObject"] == "index.html"
    web = next(b for b in synthesized.topology.buckets if b.website)
    default_origin = origin(synthesized, config["DefaultCacheBehavior"]["TargetOriginId"])
    assert logical_id(synthesized.stack.storage.buckets[web.id]) in str(default_origin["DomainName"])
    assert "OriginAccessControlId" in default_origin
    assert config["Logging"]["Bucket"]


def test_api_prefixes_go_to_the_api_stage_uncached(synthesized: Synthesized) -> None:
    api = synthesized.topology.api
    for prefix in api.prefixes:
        behavior = behaviors(synthesized)[f"{prefix.rstrip('/')}/*"]
        assert behavior["CachePolicyId"] == CACHING_DISABLED
        assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert {"PATCH", "DELETE", "POST"} <= set(behavior["AllowedMethods"])
        api_origin = origin(synthesized, behavior["TargetOriginId"])
        assert api_origin["OriginPath"] == f"/{api.stage}"
        assert logical_id(synthesized.stack.api.api) in str(api_origin["DomainName"])


def api_viewer_request_code(s: Synthesized) -> str:
    """The one viewer-request function of the API behaviours (the same on every API prefix)."""
    functions = resources(s.template, "AWS::CloudFront::Function")
    codes = set()
    for prefix in s.topology.api.prefixes:
        associations = behaviors(s)[f"{prefix.rstrip('/')}/*"]["FunctionAssociations"]
        assert [a["EventType"] for a in associations] == ["viewer-request"], prefix
        codes.add(functions[associations[0]["FunctionARN"]["Fn::GetAtt"][0]]["Properties"]["FunctionCode"])
    assert len(codes) == 1
    return str(codes.pop())


def test_api_behaviours_tell_the_api_the_viewer_host(synthesized: Synthesized) -> None:
    code = api_viewer_request_code(synthesized)
    assert "x-forwarded-host" in code
    # Edge functions may not add X-Forwarded-Proto (CloudFront answers 502); API Gateway sets it.
    assert "x-forwarded-proto" not in code.lower()


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the CloudFront function")
def test_forward_host_function_overwrites_x_forwarded_host_with_the_viewer_host(demo: Synthesized) -> None:
    event = {
        "request": {
            "uri": "/api/v1/videos/v1/playback",
            "headers": {
                "host": {"value": "d111.cloudfront.net"},
                "x-forwarded-host": {"value": "evil.example"},  # a viewer must not choose it
            },
        }
    }
    script = f"{api_viewer_request_code(demo)}\nprocess.stdout.write(JSON.stringify(handler({json.dumps(event)})));"
    result = json.loads(
        subprocess.run(["node", "-e", script], check=True, capture_output=True, text=True).stdout
    )
    assert result["headers"]["x-forwarded-host"] == {"value": "d111.cloudfront.net"}
    assert result["headers"]["host"] == {"value": "d111.cloudfront.net"}  # read-only: untouched
    assert result["uri"] == "/api/v1/videos/v1/playback"


def test_media_public_prefixes_unsigned_and_the_rest_signed(synthesized: Synthesized) -> None:
    media = synthesized.topology.media
    assert media is not None
    ordered = [b["PathPattern"] for b in distribution(synthesized)["CacheBehaviors"]]
    signed = behaviors(synthesized)[f"{media.path_prefix}*"]
    cdn = synthesized.stack.cdn
    assert cdn is not None
    assert cdn.key_group is not None
    assert signed["TrustedKeyGroups"] == [{"Ref": logical_id(cdn.key_group)}]
    for prefix in media.public_key_prefixes:
        public = behaviors(synthesized)[f"{media.path_prefix}{prefix}*"]
        assert "TrustedKeyGroups" not in public
        assert ordered.index(public["PathPattern"]) < ordered.index(signed["PathPattern"]), (
            "public must match first"
        )
    for behavior in [
        signed,
        *(behaviors(synthesized)[f"{media.path_prefix}{p}*"] for p in media.public_key_prefixes),
    ]:
        bucket = logical_id(synthesized.stack.storage.buckets[media.bucket])
        assert bucket in str(origin(synthesized, behavior["TargetOriginId"])["DomainName"])
        assert behavior["ResponseHeadersPolicyId"]
        assert [f["EventType"] for f in behavior["FunctionAssociations"]] == ["viewer-request"]


def test_media_prefix_is_stripped_before_s3(synthesized: Synthesized) -> None:
    media = synthesized.topology.media
    assert media is not None
    codes = [
        f["Properties"]["FunctionCode"]
        for f in resources(synthesized.template, "AWS::CloudFront::Function").values()
    ]
    strip = next(c for c in codes if media.path_prefix in c)
    assert f"substring({len(media.path_prefix) - 1})" in strip  # "/media/public/a.m3u8" -> "/public/a.m3u8"


def test_signing_public_key_comes_from_the_keygen_resource(synthesized: Synthesized) -> None:
    media = synthesized.topology.media
    assert media is not None
    key = next(iter(resources(synthesized.template, "AWS::CloudFront::PublicKey").values()))["Properties"]
    keygen = next(
        k
        for k, v in resources(synthesized.template, "Custom::RsaKeyInSecret").items()
        if v["Properties"]["SecretArn"]
        == {"Ref": logical_id(synthesized.stack.secrets.secrets[media.signing_secret])}
    )
    assert key["PublicKeyConfig"]["EncodedKey"] == {"Fn::GetAtt": [keygen, "PublicKeyPem"]}
    # The key group trusts that same key, whose id signers are given (MEDIA_KEY_PAIR_ID).
    public_key = synthesized.stack.secrets.media_public_key
    cdn = synthesized.stack.cdn
    assert public_key is not None
    assert cdn is not None
    assert cdn.key_group is not None
    group = resources(synthesized.template, "AWS::CloudFront::KeyGroup")[logical_id(cdn.key_group)]
    assert group["Properties"]["KeyGroupConfig"]["Items"] == [
        {"Fn::GetAtt": [synthesized.stack.get_logical_id(public_key), "Id"]}
    ]


def test_media_cors_headers_follow_the_bucket_model(synthesized: Synthesized) -> None:
    media = synthesized.topology.media
    assert media is not None
    cors = synthesized.topology.bucket(media.bucket).cors or Cors()  # the model's default CORS otherwise
    policy = next(iter(resources(synthesized.template, "AWS::CloudFront::ResponseHeadersPolicy").values()))
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]["CorsConfig"]
    assert config["AccessControlExposeHeaders"]["Items"] == list(cors.exposed_headers)
    assert config["AccessControlAllowOrigins"]["Items"] == list(cors.allowed_origins)
    assert config["AccessControlMaxAgeSec"] == cors.max_age_s


def test_outputs(synthesized: Synthesized) -> None:
    outputs = synthesized.template.to_json()["Outputs"]
    assert {"CdnUrl", "ApiUrl", "MediaPublicKeyId"} <= set(outputs)
    for bucket in synthesized.topology.buckets:
        name = "".join(p.capitalize() for p in bucket.id.split("_"))
        assert outputs[f"{name}BucketName"]["Value"] == {
            "Ref": logical_id(synthesized.stack.storage.buckets[bucket.id])
        }


def test_the_api_origin_gets_the_origin_secret_by_reference_never_in_clear(skyreel: Synthesized) -> None:
    """CloudFront sends X-Origin-Verify to the API; the template holds a dynamic reference, not the value."""
    secret_id = skyreel.topology.api.origin_secret
    assert secret_id is not None
    secret = logical_id(skyreel.stack.secrets.secrets[secret_id])
    for prefix in skyreel.topology.api.prefixes:
        api_origin = origin(skyreel, behaviors(skyreel)[f"{prefix.rstrip('/')}/*"]["TargetOriginId"])
        (header,) = api_origin["OriginCustomHeaders"]
        assert header["HeaderName"] == "X-Origin-Verify"
        assert header["HeaderValue"] == {
            "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret}, ":SecretString:::}}"]]
        }
    # The value is generated by Secrets Manager at deploy: nothing in the template could be it.
    generated = resources(skyreel.template, "AWS::SecretsManager::Secret")[secret]["Properties"]
    assert generated["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in generated


def test_no_origin_header_without_an_origin_secret(demo: Synthesized) -> None:
    assert demo.topology.api.origin_secret is None
    for o in distribution(demo)["Origins"]:
        assert "OriginCustomHeaders" not in o
