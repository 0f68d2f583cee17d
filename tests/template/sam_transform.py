"""Print template.yaml as `sam validate` transforms it into CloudFormation (JSON), offline.

Run it with the SAM CLI's venv (.venv-sam), which holds samcli and samtranslator:
    .venv-sam/bin/python tests/template/sam_transform.py [--checkov] template.yaml
It is the SAM CLI's own validator: local CodeUri replaced by a placeholder S3 URI, then the SAM
transform with the parameters' defaults. Our template names managed policies by ARN only, so the
IAM lookup that would need credentials and the network is never made (the loader here refuses it).

--checkov: a resource SAM generates (the API's stage, the function's role...) carries no Metadata,
so the checkov suppressions written on its SAM resource in template.yaml are copied onto it,
reasons included. Nothing else changes.
"""

import json
import logging
import os
import sys
from typing import Any

from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samcli.yamlhelper import yaml_parse

logging.disable(logging.WARNING)  # samtranslator's feature-toggle notices are noise here


class OfflinePolicyLoader:
    def load(self) -> dict[str, str]:
        raise RuntimeError("a managed policy is named by name: that lookup needs AWS, name it by ARN")


def transform(sam_template: dict[str, Any]) -> dict[str, Any]:
    source = json.loads(json.dumps(sam_template))  # the validator edits its input
    validator = SamTemplateValidator(source, OfflinePolicyLoader(), region=os.environ["AWS_DEFAULT_REGION"])
    transformed: dict[str, Any] = yaml_parse(validator.get_translated_template_if_valid())
    return transformed


def carry_checkov_suppressions(sam_template: dict[str, Any], transformed: dict[str, Any]) -> None:
    written = sam_template["Resources"]
    for origin, resource in written.items():
        suppressions = (resource.get("Metadata") or {}).get("checkov")
        if not suppressions:
            continue
        for name, generated in transformed["Resources"].items():
            # SAM names what it generates after its resource: PaymentsApi -> PaymentsApiv1Stage.
            if name.startswith(origin) and name not in written:
                generated.setdefault("Metadata", {})["checkov"] = suppressions


def main(argv: list[str]) -> int:
    *flags, path = argv
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # ARNs need a partition; nothing is called
    with open(path, encoding="utf-8") as handle:
        sam_template = yaml_parse(handle.read())
    transformed = transform(sam_template)
    if "--checkov" in flags:
        carry_checkov_suppressions(sam_template, transformed)
    json.dump(transformed, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
