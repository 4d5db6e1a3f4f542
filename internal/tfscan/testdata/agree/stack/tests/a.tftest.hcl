run "setup" {
  module {
    source = "./setup"
  }
}

run "main" {}
