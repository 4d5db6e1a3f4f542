# Planned (never applied) by TestFidelityAWSOffline: the AWS provider
# configured to ask AWS nothing, resources whose creation plans offline.
# A sensitive attribute, a map with keys that need quoting; writeonly.tf
# adds a write-only attribute where the program has them (Terraform 1.11).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "AKIAOFFLINETEST00000"
  secret_key                  = "offline-test-not-a-secret"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

variable "token" {
  type      = string
  default   = "offline-fidelity-token"
  sensitive = true
}

resource "aws_ssm_parameter" "plain" {
  name  = "/plangate/offline/plain"
  type  = "SecureString"
  value = var.token
}

resource "aws_s3_bucket" "logs" {
  bucket = "plangate-offline-logs"
  tags   = { Team = "web", "cost center" = "42" }
}
