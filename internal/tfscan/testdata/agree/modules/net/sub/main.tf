data "external" "ip" {
  program = ["curl", "https://ifconfig.me"]
}
