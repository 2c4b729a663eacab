"""CloudFront, one domain: the web bucket by default, the API under its prefixes, media under /media/."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from functions.shared import origin as origin_header
from infra.aws.nag import acknowledge_all
from infra.model import Cors, Topology

# Paths without a file extension are dashboard routes: serve the SPA shell for them.
SPA_REWRITE = """
function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) { request.uri = '/index.html'; }
  return request;
}
"""
# The media path's one rule (public keys, playback tokens, nothing else); the same in Python:
# functions/shared/media_token.py, both run against tests/unit/media_token_vectors.json.
MEDIA_FUNCTION = Path(__file__).parent / "functions" / "media_token.js"


class Cdn(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        web_bucket: s3.IBucket,
        buckets: dict[str, s3.IBucket],
        api: cloudfront.IOrigin,
        log_bucket: s3.IBucket,
        media_key_store: cloudfront.IKeyValueStore | None,
    ) -> None:
        super().__init__(scope, construct_id)
        behaviors = dict.fromkeys(_api_patterns(topology.api.prefixes), _api_behavior(api))
        if topology.media is not None:
            if media_key_store is None:
                raise ValueError(
                    "media is served by the CDN but there is no key value store for its token keys"
                )
            behaviors[f"{topology.media.path_prefix}*"] = self._media_behavior(
                buckets[topology.media.bucket],
                topology.bucket(topology.media.bucket).cors or Cors(),
                media_key_store,
            )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{topology.name}: web, API and media on one domain",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(web_bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                function_associations=[_viewer_request(self, "SpaRewrite", SPA_REWRITE)],
            ),
            additional_behaviors=behaviors,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix="cloudfront/",
        )
        acknowledge_all(
            self.distribution,
            {
                "AwsSolutions-CFR4": "the default *.cloudfront.net certificate cannot pin a minimum TLS version; "
                "add a custom domain and certificate to enforce TLSv1.2_2021",
                "AwsSolutions-CFR1": "a video platform serves every country; no geo restriction by design",
                "AwsSolutions-CFR2": "WAF is an account-level cost decision; API Gateway throttling bounds abuse",
            },
        )

    def _media_behavior(
        self, bucket: s3.IBucket, cors: Cors, key_store: cloudfront.IKeyValueStore
    ) -> cloudfront.BehaviorOptions:
        media_rule = cloudfront.Function(
            self,
            "MediaTokenCheck",
            comment="Media: public keys, or playback tokens checked and stripped; 403 otherwise",
            code=cloudfront.FunctionCode.from_file(file_path=str(MEDIA_FUNCTION)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            key_value_store=key_store,
        )
        return cloudfront.BehaviorOptions(
            origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
            # The cache key is the rewritten path (hls/<id>/...): one cached copy whatever the token.
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            origin_request_policy=cloudfront.OriginRequestPolicy.CORS_S3_ORIGIN,
            response_headers_policy=_cors_headers(self, cors),
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=media_rule, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )


def _api_patterns(prefixes: tuple[str, ...]) -> list[str]:
    return [f"{p.rstrip('/')}/*" for p in prefixes]


def _api_behavior(api: cloudfront.IOrigin) -> cloudfront.BehaviorOptions:
    return cloudfront.BehaviorOptions(
        origin=api,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        # Host must be the API's own, or API Gateway cannot route the request. The API builds no URL from
        # any header: playback URLs come from the configured CDN domain (CDN_URL). This managed policy
        # also forwards CloudFront's own headers, CloudFront-Viewer-Address among them (`ip:port`, set by
        # CloudFront, which the login throttle keys on); a custom policy cannot: "all viewer headers except
        # Host" and "plus CloudFront headers" are exclusive header behaviours, and Authorization can only
        # travel in an all-viewer policy when caching is off.
        origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    )


def _viewer_request(scope: Construct, name: str, code: str) -> cloudfront.FunctionAssociation:
    function = cloudfront.Function(
        scope,
        name,
        code=cloudfront.FunctionCode.from_inline(code),
        runtime=cloudfront.FunctionRuntime.JS_2_0,
    )
    return cloudfront.FunctionAssociation(
        function=function, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
    )


def _cors_headers(scope: Construct, cors: Cors) -> cloudfront.ResponseHeadersPolicy:
    return cloudfront.ResponseHeadersPolicy(
        scope,
        "MediaCors",
        comment="CORS for HLS players on other origins",
        cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
            access_control_allow_credentials=False,
            access_control_allow_headers=list(cors.allowed_headers),
            access_control_allow_methods=sorted({*cors.allowed_methods, "OPTIONS"}),
            access_control_allow_origins=list(cors.allowed_origins),
            access_control_expose_headers=list(cors.exposed_headers),
            access_control_max_age=Duration.seconds(cors.max_age_s),
            origin_override=True,
        ),
    )


def api_origin(
    rest_api_id: str, region: str, stage: str, origin_secret: secretsmanager.ISecret | None = None
) -> cloudfront.IOrigin:
    """The REST API as an origin, built from its id so the CDN does not depend on the deployment.

    With an origin secret, CloudFront adds it to every request (replacing a viewer's header of that name)
    and the API refuses requests without it (functions/shared/origin.py). The template holds a
    `{{resolve:secretsmanager:...}}` reference, resolved by CloudFormation at deploy, never the value.
    """
    headers = {origin_header.HEADER: origin_secret.secret_value.unsafe_unwrap()} if origin_secret else None
    return origins.HttpOrigin(
        f"{rest_api_id}.execute-api.{region}.amazonaws.com",
        origin_path=f"/{stage}",
        protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        custom_headers=headers,
    )
