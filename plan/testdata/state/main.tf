# A stack whose non-sensitive outputs carry sensitive values that lost their
# marks: terraform_data's output is not marked even when its input is, so
# Terraform itself shows these outputs in clear. TestStateMasksUnmarkedOutputs
# applies it and greps show_stack's view for "s3cr3t-PLANTED" and 987654.

variable "pw" {
  type      = string
  sensitive = true
  default   = "s3cr3t-PLANTED-state-pw"
}

variable "pin" {
  type      = number
  sensitive = true
  default   = 987654
}

resource "terraform_data" "pw" {
  input = var.pw
}

resource "terraform_data" "pin" {
  input = {
    pin  = var.pin
    note = "pin is ${var.pin}"
    user = "visible-user"
  }
}

module "inner" {
  source = "./inner"
}

output "pw_echo" {
  value = terraform_data.pw.output
}

output "pin_echo" {
  value = terraform_data.pin.output
}

output "pin_as_string" {
  value = tostring(terraform_data.pin.output.pin)
}

output "inner_echo" {
  value = module.inner.echo
}

output "pw_sensitive" {
  value     = var.pw
  sensitive = true
}

output "plain" {
  value = "visible-output"
}

output "count" {
  value = 42
}
