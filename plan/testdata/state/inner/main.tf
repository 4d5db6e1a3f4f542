variable "key" {
  type      = string
  sensitive = true
  default   = "s3cr3t-PLANTED-inner-key"
}

resource "terraform_data" "key" {
  input = { key = var.key }
}

output "echo" {
  value = "key=${terraform_data.key.output.key}"
}
