"""How fast `eksp check` is.

1. Objects per second over a generated folder of realistic manifests (default 1,000 apps x 10 objects:
   Deployment, Service, ConfigMap, ServiceAccount, NetworkPolicy, Ingress, PodDisruptionBudget,
   HorizontalPodAutoscaler, CronJob, Secret; some apps in the host network, some with webhooks,
   some pinned to a pilot), read from disk, parsed and checked against the reference platform.
   Goal: at least 2,000 objects/s.
2. Wall time of `eksp check` on the reference platform in a fresh process (median of 5). Goal: under 1 s.

    python benchmarks/check.py [--apps 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eks_platform.checks import check
from eks_platform.checks.objects import parse_manifests
from eks_platform.spec.instance_catalog import load_catalog
from eks_platform.spec.loading import load_reference

NAMESPACES = 40


def app_manifests(index: int) -> str:
    name = f"app-{index:05d}"
    namespace = f"team-{index % NAMESPACES:02d}"
    host_network = index % 50 == 0
    pilot = "beta" if index % 97 == 0 else None
    pin = ""
    if pilot:
        pin = (
            f"      nodeSelector: {{eks-platform.io/pilot: {pilot}}}\n"
            "      tolerations: [{key: eks-platform.io/pilot, operator: Equal, "
            f"value: {pilot}, effect: NoSchedule}}]\n"
        )
    webhook = ""
    if index % 25 == 0:
        webhook = f"""---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {name}
webhooks:
  - name: validate.{name}.example.com
    clientConfig:
      service: {{name: {name}, namespace: {namespace}, path: /validate}}
    admissionReviewVersions: [v1]
    sideEffects: None
"""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app.kubernetes.io/name: {name}, app.kubernetes.io/part-of: bench}}
spec:
  replicas: {1 + index % 3}
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {name}, tier: backend}}
    spec:
      serviceAccountName: {name}
      hostNetwork: {str(host_network).lower()}
{pin}      containers:
        - name: main
          image: registry.example.com/{name}:1.{index % 10}.0
          args: ["--listen=:8080", "--upstream=http://app-{(index + 1) % 1000:05d}.{namespace}.svc:8080"]
          env:
            - {{name: DATABASE_URL, value: "postgres://db.{namespace}.svc:5432/{name}"}}
            - {{name: LOG_LEVEL, value: info}}
          ports:
            - {{name: http, containerPort: {8080 + index % 7}}}
            - {{name: metrics, containerPort: 9090}}
          resources:
            requests: {{cpu: {100 + index % 400}m, memory: {128 + index % 512}Mi}}
            limits: {{memory: 1Gi}}
          readinessProbe: {{httpGet: {{path: /ready, port: http}}}}
          securityContext: {{runAsNonRoot: true, allowPrivilegeEscalation: false}}
          volumeMounts: [{{name: config, mountPath: /etc/{name}}}]
      volumes:
        - name: config
          configMap: {{name: {name}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{app.kubernetes.io/name: {name}}}
  ports: [{{name: http, port: 8080, targetPort: http}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: {namespace}}}
data:
  config.yaml: |
    listen: :8080
    upstream: app-{(index + 1) % 1000:05d}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {name}, namespace: {namespace}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}-allow-http, namespace: {namespace}}}
spec:
  podSelector: {{matchLabels: {{app.kubernetes.io/name: {name}}}}}
  policyTypes: [Ingress]
  ingress:
    - from: [{{podSelector: {{matchLabels: {{tier: frontend}}}}}}]
      ports: [{{port: 8080}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: {namespace}
  annotations: {{nginx.ingress.kubernetes.io/proxy-body-size: 8m}}
spec:
  ingressClassName: nginx
  rules:
    - host: {name}.apps.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {{service: {{name: {name}, port: {{number: 8080}}}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  minAvailable: 1
  selector: {{matchLabels: {{app.kubernetes.io/name: {name}}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 1
  maxReplicas: 5
  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: {name}-report, namespace: {namespace}}}
spec:
  schedule: "{index % 60} 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: registry.example.com/{name}-report:1.0.0
              resources: {{requests: {{cpu: 50m, memory: 64Mi}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: {name}-credentials, namespace: {namespace}}}
type: Opaque
stringData: {{username: {name}, password: not-a-real-password}}
{webhook}"""


def generate(folder: Path, apps: int) -> None:
    for index in range(apps):
        (folder / f"app-{index:05d}.yaml").write_text(app_manifests(index), encoding="utf-8")


def objects_per_second(folder: Path, runs: int) -> tuple[int, float, int]:
    catalog = load_catalog()
    loaded = load_reference(catalog=catalog)
    times = []
    count = findings = 0
    for _ in range(runs):
        start = time.perf_counter()
        objects = []
        for path in sorted(folder.glob("*.yaml")):
            objects += parse_manifests(path.read_text(encoding="utf-8"), file=str(path))
        report = check(loaded, catalog=catalog, manifests=objects)
        times.append(time.perf_counter() - start)
        count, findings = len(objects), len(report.findings)
    return count, statistics.median(times), findings


def cold_check_seconds(runs: int) -> float:
    eksp = Path(sys.executable).parent / "eksp"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run([str(eksp), "check"], capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"eksp check failed on the reference platform:\n{result.stdout}{result.stderr}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=1000, help="apps to generate (10-11 objects each)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        generate(Path(folder), args.apps)
        count, seconds, findings = objects_per_second(Path(folder), args.runs)
    rate = count / seconds
    print(
        f"check over a folder: {count} objects (+ the reference platform) in {seconds:.2f} s "
        f"(median of {args.runs}) = {rate:,.0f} objects/s, {findings} findings  [goal >= 2,000 objects/s]"
    )
    cold = cold_check_seconds(5)
    print(f"eksp check on the reference platform, fresh process: {cold:.2f} s (median of 5)  [goal < 1 s]")


if __name__ == "__main__":
    main()
