"""The karpenter-infra stack (only with karpenter.interruptionQueue): the SQS queue Karpenter reads
interruption events from, and the EventBridge rules that feed it (as Karpenter's getting-started
cloudformation.yaml). The discovery tags on existing subnets are not here: CloudFormation cannot tag a
resource it does not own, the engine tags them through the EC2 API."""

from __future__ import annotations

from awacs.aws import Allow, Bool, Condition, Deny, Everybody, PolicyDocument, Principal, Statement
from awacs.sqs import Action as SqsAction
from awacs.sqs import SendMessage
from troposphere import GetAtt, Output, Ref, Template, events, sqs

from eks_platform.render.karpenter import interruption_queue_name
from eks_platform.render.stacks.common import new_template, tags
from eks_platform.spec.model import Platform

RETENTION_SECONDS = 300  # an interruption notice is useless after a few minutes
# logical id -> (event source, detail-type)
INTERRUPTION_EVENTS: dict[str, tuple[str, str]] = {
    "SpotInterruptionRule": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "RebalanceRule": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "InstanceStateChangeRule": ("aws.ec2", "EC2 Instance State-change Notification"),
    "ScheduledChangeRule": ("aws.health", "AWS Health Event"),
}


def karpenter_infra_template(platform: Platform) -> Template:
    cluster = platform.cluster.name
    template = new_template(
        f"eks-platform {cluster}: Karpenter's interruption queue (SQS) and the EventBridge rules that feed it."
    )
    queue = template.add_resource(
        sqs.Queue(
            "InterruptionQueue",
            DeletionPolicy="Delete",  # events live 5 minutes: nothing to keep
            UpdateReplacePolicy="Delete",
            QueueName=interruption_queue_name(platform),
            MessageRetentionPeriod=RETENTION_SECONDS,
            SqsManagedSseEnabled=True,
            Tags=tags(platform),
        )
    )
    template.add_resource(
        sqs.QueuePolicy(
            "InterruptionQueuePolicy",
            Queues=[Ref(queue)],
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Id="EC2InterruptionPolicy",
                Statement=[
                    Statement(
                        Sid="EventBridgeSendsInterruptionEvents",
                        Effect=Allow,
                        Principal=Principal("Service", ["events.amazonaws.com", "sqs.amazonaws.com"]),
                        Action=[SendMessage],
                        Resource=[GetAtt(queue, "Arn")],
                    ),
                    Statement(
                        Sid="DenyHTTP",
                        Effect=Deny,
                        Principal=Principal(Everybody),
                        Action=[SqsAction("*")],
                        Resource=[GetAtt(queue, "Arn")],
                        Condition=Condition(Bool("aws:SecureTransport", "false")),
                    ),
                ],
            ),
        )
    )
    for logical, (source, detail_type) in INTERRUPTION_EVENTS.items():
        template.add_resource(
            events.Rule(
                logical,
                Description=f"{detail_type} -> Karpenter interruption queue of {cluster}",
                EventPattern={"source": [source], "detail-type": [detail_type]},
                State="ENABLED",
                Targets=[events.Target(Id="KarpenterInterruptionQueueTarget", Arn=GetAtt(queue, "Arn"))],
                Tags=tags(platform),
            )
        )
    template.add_output(
        Output(
            "InterruptionQueueName",
            Description="Karpenter settings interruptionQueue",
            Value=GetAtt(queue, "QueueName"),
        )
    )
    template.add_output(Output("InterruptionQueueArn", Description="The queue's ARN.", Value=GetAtt(queue, "Arn")))
    template.add_output(Output("InterruptionQueueUrl", Description="The queue's URL.", Value=Ref(queue)))
    return template
