# Added to the AWS fixture stack by TestFidelityAWS only: constructs the
# stack itself lacks, each changed when var.environment changes — a set of
# objects (ingress), nested list blocks inside a list block, a single
# nested block, a map of tags, a JSON policy string, a sensitive value.

variable "secret_note" {
  type      = string
  default   = "fidelity-secret-note"
  sensitive = true
}

resource "aws_security_group" "web" {
  name        = "${var.name}-web"
  description = "fidelity ${var.environment}"

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
  ingress {
    from_port   = var.environment == "prod" ? 8443 : 80
    to_port     = var.environment == "prod" ? 8443 : 80
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8", "192.168.0.0/16"]
  }

  tags = local.tags
}

resource "aws_launch_template" "web" {
  name          = "${var.name}-web"
  image_id      = var.ami
  instance_type = var.environment == "prod" ? "t3.small" : "t3.micro"
  user_data     = base64encode("${var.environment}:${var.secret_note}")

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = var.environment == "prod" ? 20 : 10
      volume_type = "gp3"
    }
  }

  metadata_options {
    http_tokens   = var.environment == "prod" ? "required" : "optional"
    http_endpoint = "enabled"
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.tags
  }

  tags = local.tags
}

resource "aws_iam_policy" "read" {
  name = "${var.name}-read"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = var.environment == "prod" ? ["s3:GetObject"] : ["s3:GetObject", "s3:ListBucket"]
      Resource = "*"
    }]
  })
  tags = local.tags
}
