# A write-only attribute: Terraform 1.11 and later (TestFidelityRegistryOffline
# removes this file for other programs).

resource "aws_ssm_parameter" "token" {
  name             = "/plangate/offline/token"
  type             = "SecureString"
  value_wo         = var.token
  value_wo_version = 1
  tags             = { Team = "web" }
}
