"""CloudFront: the web bucket by default, the API under its prefixes, media behind one viewer function."""

from __future__ import annotations

from typing import Any

import pytest

from infra.aws.cdn import MEDIA_FUNCTION
from infra.model import Cors
from tests.infra.conftest import Synthesized
from tests.infra.helpers import logical_id, props, ref, resources

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


def test_api_behaviours_forward_no_viewer_host(synthesized: Synthesized) -> None:
    """The API builds no URL from request headers (playback URLs come from CDN_URL), so nothing at the
    edge forwards the viewer's host: no X-Forwarded-Host function on the API behaviours."""
    for prefix in synthesized.topology.api.prefixes:
        assert "FunctionAssociations" not in behaviors(synthesized)[f"{prefix.rstrip('/')}/*"], prefix
    codes = [
        str(f["Properties"]["FunctionCode"])
        for f in resources(synthesized.template, "AWS::CloudFront::Function").values()
    ]
    assert not any("x-forwarded-host" in code.lower() for code in codes)


def media_function(s: Synthesized) -> dict[str, Any]:
    media = s.topology.media
    assert media is not None
    (association,) = behaviors(s)[f"{media.path_prefix}*"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    found: dict[str, Any] = resources(s.template, "AWS::CloudFront::Function")[function_id]["Properties"]
    return found


def test_media_is_one_behaviour_whose_function_is_the_tested_file(synthesized: Synthesized) -> None:
    """Public keys, token paths and refusals are one rule: the file the test vectors run against."""
    media = synthesized.topology.media
    assert media is not None
    media_patterns = [p for p in behaviors(synthesized) if p.startswith(media.path_prefix)]
    assert media_patterns == [f"{media.path_prefix}*"]
    behavior = behaviors(synthesized)[f"{media.path_prefix}*"]
    assert "TrustedKeyGroups" not in behavior  # no CloudFront signed URLs or cookies any more
    bucket = logical_id(synthesized.stack.storage.buckets[media.bucket])
    assert bucket in str(origin(synthesized, behavior["TargetOriginId"])["DomainName"])
    assert "OriginAccessControlId" in origin(synthesized, behavior["TargetOriginId"])
    assert behavior["ResponseHeadersPolicyId"]
    function = media_function(synthesized)
    assert function["FunctionCode"] == MEDIA_FUNCTION.read_text()
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"


def test_the_media_function_reads_the_keygen_filled_key_value_store(synthesized: Synthesized) -> None:
    media, secrets = synthesized.topology.media, synthesized.stack.secrets
    assert media is not None
    assert secrets.media_key_store is not None
    store = logical_id(secrets.media_key_store)
    (association,) = media_function(synthesized)["FunctionConfig"]["KeyValueStoreAssociations"]
    assert association["KeyValueStoreARN"] == {"Fn::GetAtt": [store, "Arn"]}
    # No key material in the template: the store starts empty (no import source) and the keygen fills it
    # from the generated secret at deploy.
    assert "ImportSource" not in props(synthesized.template, store)
    keygen = props(synthesized.template, logical_id(secrets.keygens[media.signing_secret]))
    assert keygen["KeyValueStoreArn"] == {"Fn::GetAtt": [store, "Arn"]}
    assert keygen["SecretArn"] == ref(secrets.secrets[media.signing_secret])
    assert keygen["Revision"] == "1"  # `-c mediaKeysRevision=N` re-runs the sync (rotation)
    assert not resources(synthesized.template, "AWS::CloudFront::KeyGroup")
    assert not resources(synthesized.template, "AWS::CloudFront::PublicKey")


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
    assert {"CdnUrl", "ApiUrl", "MediaTokenKeyStoreArn"} <= set(outputs)
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
