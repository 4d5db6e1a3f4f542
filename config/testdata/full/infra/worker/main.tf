resource "terraform_data" "worker" {}
