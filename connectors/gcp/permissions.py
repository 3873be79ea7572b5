"""What `evidence connectors permissions gcp` prints: the minimal read-only grant."""

from __future__ import annotations

# Predefined roles that together hold every permission the snapshots use (all read-only).
PREDEFINED_ROLES = (
    ("roles/iam.securityReviewer", "IAM policies of the organization, folders and projects; "
                                   "service accounts and their keys"),
    ("roles/browser", "the folder and project tree"),
    ("roles/logging.viewer", "log sinks and log buckets"),
    ("roles/cloudkms.viewer", "key rings and keys"),
    ("roles/storage.bucketViewer", "bucket metadata (the bucket list and settings)"),
    ("roles/orgpolicy.policyViewer", "effective organization policies"),
)


def permission_document(permissions: tuple[str, ...]) -> str:
    """A custom role (YAML for `gcloud iam roles create --file`) holding exactly
    `permissions`, preceded by the predefined roles that cover them, as comments."""
    lines = ["# Grant at the organization (or on each project when the scope is a list).",
             "# Either these predefined read-only roles:"]
    lines += [f"#   {role:32} {why}" for role, why in PREDEFINED_ROLES]
    lines += ["#   (storage.buckets.getIamPolicy is in roles/iam.securityReviewer)",
              "# or this custom role with exactly the permissions the snapshots use:",
              "title: Evidence Agent GCP Reader",
              "description: Read-only access for evidence-agent's gcp connector",
              "stage: GA", "includedPermissions:"]
    lines += [f"- {p}" for p in permissions]
    return "\n".join(lines)
