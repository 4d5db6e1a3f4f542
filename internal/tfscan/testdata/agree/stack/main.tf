# A stack that uses every way a configuration names a provider. Terraform
# itself lists them in TestScanAgreesWithTerraform; remote.tf is written by
# the test (its git source is a path of the test's own).
terraform {
  required_providers {
    aws = {
      source  = "HashiCorp/AWS"
      version = "~> 5.0"
    }
    thing  = { source = "Example.COM/Corp/Thing" }
    run    = { source = "evil/external" }
    google = "~> 4.0"
  }
}

provider "aws" {
  alias = "west"
}

provider "kubernetes" {}

resource "aws_instance" "x" {
  provider = aws.west
}

resource "thing_widget" "w" {}

resource "random_id" "r" {
  byte_length = 4
}

resource "terraform_data" "t" {}

data "terraform_remote_state" "s" {
  backend = "local"
}

data "external" "e" {
  program = ["true"]
}

data "run_anything" "a" {}

ephemeral "vault_secret" "s" {}

check "up" {
  data "http" "h" {
    url = "https://example.com"
  }
  assert {
    condition     = data.http.h.status_code == 200
    error_message = "down"
  }
}

import {
  to       = awsx_instance.y
  id       = "i-1"
  provider = awsx.eu
}

module "net" {
  source = "../modules/net"
}
