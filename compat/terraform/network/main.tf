# A VPC built by Terraform on The Cloud: subnets, security groups (inline rules and rule resources), an ENI and an
# instance in them. (Gateways, route tables and addresses join when the edge is merged.)
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "endpoint" { type = string }

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    ec2 = var.endpoint
  }
}

data "aws_ami" "base" {
  owners = ["self", "999999999999"]
  filter {
    name   = "name"
    values = ["thecloud-busybox"]
  }
}

resource "aws_vpc" "main" {
  cidr_block           = "10.90.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = "tf-vpc" }
}

resource "aws_subnet" "app" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.90.1.0/24"
  availability_zone = "us-east-1a"
  tags              = { Name = "tf-app" }
}

resource "aws_subnet" "data" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.90.2.0/24"
  availability_zone = "us-east-1a"
}

resource "aws_security_group" "web" {
  name        = "tf-web"
  description = "web"
  vpc_id      = aws_vpc.main.id
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["10.90.0.0/16"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "admin" {
  name        = "tf-admin"
  description = "admin"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = aws_security_group.admin.id
  cidr_ipv4         = "10.90.0.0/16"
  from_port         = 22
  to_port           = 22
  ip_protocol       = "tcp"
}

resource "aws_security_group_rule" "icmp" {
  type                     = "ingress"
  security_group_id        = aws_security_group.admin.id
  source_security_group_id = aws_security_group.web.id
  from_port                = -1
  to_port                  = -1
  protocol                 = "icmp"
}

resource "aws_network_interface" "spare" {
  subnet_id       = aws_subnet.data.id
  private_ips     = ["10.90.2.50"]
  security_groups = [aws_security_group.admin.id]
}

resource "aws_instance" "web" {
  ami                    = data.aws_ami.base.id
  instance_type          = "t3.micro"
  subnet_id              = aws_subnet.app.id
  private_ip             = "10.90.1.10"
  vpc_security_group_ids = [aws_security_group.web.id, aws_security_group.admin.id]
  user_data              = "#!/bin/sh\necho terraform-network\n"
  tags                   = { Name = "tf-net" }
}

output "vpc_id" { value = aws_vpc.main.id }
output "instance_id" { value = aws_instance.web.id }
output "private_ip" { value = aws_instance.web.private_ip }
