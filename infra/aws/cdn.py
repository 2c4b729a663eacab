"""CloudFront, one domain: the web bucket by default, the API under its prefixes, media under /media/."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.aws.nag import acknowledge_all
from infra.model import Cors, Media, Topology

# Paths without a file extension are dashboard routes: serve the SPA shell for them.
SPA_REWRITE = """
function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) { request.uri = '/index.html'; }
  return request;
}
"""
STRIP_PREFIX = """
function handler(event) {
  var request = event.request;
  if (request.uri.indexOf('%(prefix)s') === 0) { request.uri = request.uri.substring(%(keep_from)d); }
  return request;
}
"""
# API Gateway sees its own execute-api Host, so the API learns the viewer's from X-Forwarded-Host (absolute
# URLs in answers, e.g. playback). Always overwritten: a viewer must not choose it. X-Forwarded-Proto is
# not set: edge functions may not add it (CloudFront answers 502) and CloudFront strips the viewer's;
# API Gateway adds its own (https, the only protocol of the API behaviours).
FORWARD_HOST = """
function handler(event) {
  var request = event.request;
  request.headers['x-forwarded-host'] = { value: request.headers.host.value };
  return request;
}
"""


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
        media_public_key: cloudfront.CfnPublicKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        forward_host = _viewer_request(self, "ForwardHost", FORWARD_HOST)
        behaviors = dict.fromkeys(_api_patterns(topology.api.prefixes), _api_behavior(api, forward_host))
        self.key_group: cloudfront.KeyGroup | None = None
        self.public_key_id = ""
        if topology.media is not None:
            if media_public_key is None:
                raise ValueError("media is served by the CDN but no media public key was made")
            self.key_group = self._key_group(media_public_key)
            behaviors.update(
                self._media_behaviors(
                    topology.media,
                    buckets[topology.media.bucket],
                    topology.bucket(topology.media.bucket).cors or Cors(),
                )
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

    def _key_group(self, public_key: cloudfront.CfnPublicKey) -> cloudfront.KeyGroup:
        self.public_key_id = public_key.attr_id
        return cloudfront.KeyGroup(
            self,
            "MediaKeyGroup",
            items=[cloudfront.PublicKey.from_public_key_id(self, "MediaPublicKeyRef", public_key.attr_id)],
        )

    def _media_behaviors(
        self, media: Media, bucket: s3.IBucket, cors: Cors
    ) -> dict[str, cloudfront.BehaviorOptions]:
        origin = origins.S3BucketOrigin.with_origin_access_control(bucket)
        strip = _viewer_request(
            self,
            "StripMediaPrefix",
            STRIP_PREFIX % {"prefix": media.path_prefix, "keep_from": len(media.path_prefix) - 1},
        )
        headers = _cors_headers(self, cors)

        def behavior(signed: bool) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                origin_request_policy=cloudfront.OriginRequestPolicy.CORS_S3_ORIGIN,
                response_headers_policy=headers,
                function_associations=[strip],
                trusted_key_groups=[self.key_group] if signed and self.key_group else None,
            )

        # CloudFront matches behaviours in order: the public prefixes come before the signed catch-all.
        public = {f"{media.path_prefix}{p}*": behavior(signed=False) for p in media.public_key_prefixes}
        return {**public, f"{media.path_prefix}*": behavior(signed=True)}


def _api_patterns(prefixes: tuple[str, ...]) -> list[str]:
    return [f"{p.rstrip('/')}/*" for p in prefixes]


def _api_behavior(
    api: cloudfront.IOrigin, forward_host: cloudfront.FunctionAssociation
) -> cloudfront.BehaviorOptions:
    return cloudfront.BehaviorOptions(
        origin=api,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        # Host must be the API's own, or API Gateway cannot route the request. Headers the viewer-request
        # function adds count as viewer headers, so X-Forwarded-Host reaches the API. This managed policy
        # also forwards CloudFront's own headers, CloudFront-Viewer-Address among them (`ip:port`, set by
        # CloudFront, which the login throttle keys on); a custom policy cannot: "all viewer headers except
        # Host" and "plus CloudFront headers" are exclusive header behaviours, and Authorization can only
        # travel in an all-viewer policy when caching is off.
        origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        function_associations=[forward_host],
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


def api_origin(rest_api_id: str, region: str, stage: str) -> cloudfront.IOrigin:
    """The REST API as an origin, built from its id so the CDN does not depend on the deployment."""
    return origins.HttpOrigin(
        f"{rest_api_id}.execute-api.{region}.amazonaws.com",
        origin_path=f"/{stage}",
        protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    )
