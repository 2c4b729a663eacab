"""Alarms, one SNS topic and a CloudWatch dashboard, all derived from the topology.

Nothing here names a route, function, queue or workflow: a route declared in a domain's topology module
gets its p99 alarm, a function its throttle alarm (and, when it serves no route, its error and duration
alarms), a queue's dead-letter queue and a stream trigger's failure queue their depth alarms, a workflow
its failure alarm, with no edit to this file. Route handlers' errors show as the API's 5xx rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.aws.nag import acknowledge
from infra.model import Packaging, Route, Topology

PERIOD = Duration.minutes(5)
API_5XX_RATE = 0.05  # a twentieth of requests failing on the server side
API_P99_MS = 3000  # a route slower than this for 99% of its calls is broken for its users
DURATION_SHARE = 0.8  # a worker whose p99 nears its timeout is about to start failing
ALARM_EMAIL_CONTEXT = "alarmEmail"
# Application metrics: powertools writes every metric in this namespace with a `service` dimension.
APP_NAMESPACE = "Skyreel"
TRANSCODE_RATIO_METRIC = "TranscodeSecondsPerVideoMinute"


@dataclass(frozen=True)
class Monitored:
    """What the stack built, by topology id: the only inputs the alarms are derived from."""

    api: apigw.RestApi
    stage_name: str
    functions: Mapping[str, lambda_.Function]
    dead_letter_queues: Mapping[str, sqs.IQueue]  # by the id of the queue (or trigger) they catch for
    state_machines: Mapping[str, sfn.IStateMachine]


class Monitoring(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, topology: Topology, monitored: Monitored
    ) -> None:
        super().__init__(scope, construct_id)
        self._topology = topology
        self._monitored = monitored
        self._prefix = Stack.of(self).stack_name
        self.topic = sns.Topic(self, "AlarmTopic", display_name=f"{self._prefix} alarms", enforce_ssl=True)
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "alarm notifications carry alarm names and states only; CloudWatch can publish to a KMS-encrypted "
            "topic only through a customer-managed key, a cost this topic's content does not justify",
        )
        email = self.node.try_get_context(ALARM_EMAIL_CONTEXT)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(str(email)))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._api_alarms()
        self._function_alarms()
        for queue_id, dlq in monitored.dead_letter_queues.items():
            self._alarm(
                f"dlq-{queue_id}",
                f"messages for {queue_id} gave up and wait in its dead-letter queue (inspect, then redrive)",
                dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                threshold=1,
            )
        for machine_id, machine in monitored.state_machines.items():
            self._alarm(
                f"workflow-{machine_id}",
                f"executions of the {machine_id} workflow failed or timed out",
                cloudwatch.MathExpression(
                    expression="failed + timedout",
                    using_metrics={
                        "failed": machine.metric_failed(period=PERIOD),
                        "timedout": machine.metric_timed_out(period=PERIOD),
                    },
                    period=PERIOD,
                    label=f"{machine_id} failed or timed out",
                ),
                threshold=1,
            )
        self.dashboard = self._dashboard()

    # --- alarms ----------------------------------------------------------------------------------

    def _alarm(
        self,
        key: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        datapoints: int = 1,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm-{key}",
            alarm_name=f"{self._prefix}-{key}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[key] = alarm
        return alarm

    def _api_alarms(self) -> None:
        api = self._monitored.api
        # The average of 5XXError is the share of requests that failed on the server side.
        self._alarm(
            "api-5xx-rate",
            f"more than {API_5XX_RATE:.0%} of API requests answered 5xx (handler errors, authorizer failures)",
            api.metric_server_error(period=PERIOD, statistic="Average"),
            threshold=API_5XX_RATE,
            datapoints=2,
            evaluation_periods=3,
        )
        for route in self._topology.api.routes:
            fn = self._topology.function(route.function)
            threshold = min(API_P99_MS, DURATION_SHARE * fn.timeout_s * 1000)
            self._alarm(
                f"p99-{route.method}{_slug(route.path)}",
                f"p99 latency of {route.method} {route.path} above {threshold:.0f} ms",
                self.route_latency(route, labelled=False),  # a label would make it a metric-math alarm
                threshold=threshold,
                datapoints=2,
                evaluation_periods=3,
            )

    def route_latency(
        self, route: Route, statistic: str = "p99", *, labelled: bool = True
    ) -> cloudwatch.Metric:
        """Per-method metrics: the stage has detailed metrics on (infra/aws/api.py)."""
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="Latency",
            dimensions_map={
                "ApiName": self._monitored.api.rest_api_name,
                "Stage": self._monitored.stage_name,
                "Method": route.method,
                "Resource": route.path,
            },
            statistic=statistic,
            period=PERIOD,
            label=f"{route.method} {route.path}" if labelled else None,
        )

    def _function_alarms(self) -> None:
        serving = {route.function for route in self._topology.api.routes}
        authorizer = self._topology.api.authorizer.function if self._topology.api.authorizer else None
        for fn in self._topology.functions:
            function = self._monitored.functions[fn.id]
            self._alarm(
                f"throttles-{fn.id}",
                f"invocations of {fn.id} were throttled (account or reserved concurrency reached)",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
            )
            if fn.id in serving:
                continue  # its errors are the API's 5xx rate
            what = "authorizer errors: protected routes answer 500" if fn.id == authorizer else "errors"
            self._alarm(
                f"errors-{fn.id}",
                f"{fn.id} {what}",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
            )
            limit_ms = DURATION_SHARE * fn.timeout_s * 1000
            self._alarm(
                f"duration-{fn.id}",
                f"p99 duration of {fn.id} above {DURATION_SHARE:.0%} of its {fn.timeout_s} s timeout",
                function.metric_duration(period=PERIOD, statistic="p99"),
                threshold=limit_ms,
            )

    # --- dashboard -------------------------------------------------------------------------------

    def _dashboard(self) -> cloudwatch.Dashboard:
        api = self._monitored.api
        functions = self._monitored.functions
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=self._prefix, default_interval=Duration.hours(3)
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24)
        )
        dashboard.add_widgets(
            _graph("API requests", [api.metric_count(period=PERIOD)]),
            _graph(
                "API errors (share of requests)",
                [
                    api.metric_client_error(period=PERIOD, statistic="Average"),
                    api.metric_server_error(period=PERIOD, statistic="Average"),
                ],
            ),
            _graph(
                "API latency (ms)",
                [api.metric_latency(period=PERIOD, statistic=s) for s in ("p50", "p90", "p99")],
            ),
        )
        routes = list(self._topology.api.routes)
        for start in range(0, len(routes), 10):  # readable graphs: ten routes each
            dashboard.add_widgets(
                _graph(
                    f"p99 latency by route ({start + 1}-{min(start + 10, len(routes))} of {len(routes)})",
                    [self.route_latency(r) for r in routes[start : start + 10]],
                    width=24,
                )
            )
        fns = list(functions.items())
        dashboard.add_widgets(
            _graph("Lambda errors", [f.metric_errors(period=PERIOD, label=i) for i, f in fns]),
            _graph("Lambda throttles", [f.metric_throttles(period=PERIOD, label=i) for i, f in fns]),
            _graph(
                "Lambda p99 duration (ms)",
                [f.metric_duration(period=PERIOD, statistic="p99", label=i) for i, f in fns],
            ),
        )
        dashboard.add_widgets(
            _graph(
                "Dead-letter queue depth",
                [
                    q.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label=i
                    )
                    for i, q in self._monitored.dead_letter_queues.items()
                ],
            ),
            _graph(
                "Workflows: failed, timed out",
                [
                    metric
                    for i, m in self._monitored.state_machines.items()
                    for metric in (
                        m.metric_failed(period=PERIOD, label=f"{i} failed"),
                        m.metric_timed_out(period=PERIOD, label=f"{i} timed out"),
                    )
                ],
            ),
            _graph(
                "Workflows: started, succeeded",
                [
                    metric
                    for i, m in self._monitored.state_machines.items()
                    for metric in (
                        m.metric_started(period=PERIOD, label=f"{i} started"),
                        m.metric_succeeded(period=PERIOD, label=f"{i} succeeded"),
                    )
                ],
            ),
        )
        dashboard.add_widgets(*self._transcode_widgets(), self._application_metrics())
        return dashboard

    def _transcode_widgets(self) -> list[cloudwatch.IWidget]:
        widgets: list[cloudwatch.IWidget] = []
        for fn in self._topology.functions:
            if fn.packaging is not Packaging.IMAGE:
                continue
            function = self._monitored.functions[fn.id]
            ratio = cloudwatch.Metric(
                namespace=APP_NAMESPACE,
                metric_name=TRANSCODE_RATIO_METRIC,
                dimensions_map={"service": fn.service_name},
                statistic="Average",
                period=PERIOD,
            )
            widgets.append(
                _graph(
                    f"{fn.id}: duration (ms) and errors",
                    [
                        function.metric_duration(period=PERIOD, statistic="p50", label="p50 duration"),
                        function.metric_duration(period=PERIOD, statistic="p99", label="p99 duration"),
                    ],
                    right=[function.metric_errors(period=PERIOD, label="errors")],
                )
            )
            # What a video minute costs: compute seconds per video minute times the function's memory.
            widgets.append(
                _graph(
                    f"{fn.id}: GB-seconds per video minute",
                    [
                        cloudwatch.MathExpression(
                            expression=f"ratio * {fn.memory_mb / 1024:g}",
                            using_metrics={"ratio": ratio},
                            period=PERIOD,
                            label="GB-s per video minute",
                        )
                    ],
                )
            )
        return widgets

    def _application_metrics(self) -> cloudwatch.IWidget:
        """Every powertools metric any function emits (usage, viewers, transcode...), found by search, so a
        new metric shows without an edit here."""
        return _graph(
            "Application metrics (powertools)",
            [
                cloudwatch.MathExpression(
                    expression=f"SEARCH('{{{APP_NAMESPACE},service}}', 'Sum', 300)",
                    using_metrics={},
                    label="",
                    period=PERIOD,
                )
            ],
            width=24,
        )


def _graph(
    title: str,
    left: list[cloudwatch.IMetric],
    *,
    right: list[cloudwatch.IMetric] | None = None,
    width: int = 8,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=left, right=right or [], width=width, height=6)


def _slug(path: str) -> str:
    """An API path as an alarm-name fragment: `/api/v1/videos/{id}` -> `-api-v1-videos-id`."""
    return "".join(c if c.isalnum() else "-" for c in path).replace("--", "-").rstrip("-")
