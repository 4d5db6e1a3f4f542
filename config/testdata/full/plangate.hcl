# A config that sets every field. config_test.go checks each value.
state_dir = "state/plangate"
provider_mirror = "infra"
terraform_binary = "tofu"

stack "web" {
  dir         = "infra/web"
  description = "Public web tier"
  variables   = ["replicas", "image_tag"]
  var_files   = ["vars/prod.tfvars", "vars/common.tfvars"]
  workspace   = "prod"

  policy {
    approvals          = 2
    deletion_approvals = 3
    max_deletions      = 10
    max_deletion_ratio = 0.25
    protected          = ["aws_db_instance.main", "module.data.*"]
    plan_ttl           = "30m"
    allow_provisioners  = true
    allow_external_data = true
    providers           = ["hashicorp/*", "Registry.Example.com/acme/widget", "*/*/*"]
  }

  aws {
    region         = "us-east-1"
    account_id     = "123456789012"
    profile        = "prod-plan"
    plan_role_arn  = "arn:aws:iam::123456789012:role/plangate-plan"
    apply_role_arn = "arn:aws:iam::123456789012:role/plangate-apply"
    endpoint_url   = "http://127.0.0.1:5000"
    session_duration = "2h"
  }
}

# Everything left to its default.
stack "worker" {
  dir = "infra/worker"
}

approver "oncall" {
  public_key = "ed25519:iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w="
}

approver "lead" {
  public_key = "ed25519:gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q="
}
