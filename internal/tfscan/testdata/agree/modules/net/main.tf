resource "cloudflare_record" "r" {}

module "sub" {
  source = "./sub"
}
