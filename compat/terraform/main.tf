# An aws_key_pair and two aws_instance resources with tags and user data, and an EBS volume (aws_ebs_volume on
# real LVM) attached to the first (aws_volume_attachment) and snapshotted (aws_ebs_snapshot), applied against The Cloud.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "endpoint" { type = string }
variable "public_key" { type = string }

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
    values = ["thecloud-*"]
  }
}

resource "aws_key_pair" "deployer" {
  key_name   = "tf-deployer"
  public_key = var.public_key
}

resource "aws_instance" "web" {
  count         = 2
  ami           = data.aws_ami.base.id
  instance_type = "t3.micro"
  key_name      = aws_key_pair.deployer.key_name
  user_data     = "#!/bin/sh\necho terraform-web-${count.index}\n"
  tags = {
    Name = "tf-web-${count.index}"
    Team = "platform"
  }
}

resource "aws_ebs_volume" "data" {
  availability_zone = aws_instance.web[0].availability_zone
  size              = 1
  type              = "gp3"
  tags = {
    Name = "tf-data"
  }
}

resource "aws_volume_attachment" "data" {
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.data.id
  instance_id = aws_instance.web[0].id
}

resource "aws_ebs_snapshot" "data" {
  volume_id   = aws_volume_attachment.data.volume_id
  description = "tf snapshot"
  tags = {
    Name = "tf-snap"
  }
}

output "private_ips" { value = aws_instance.web[*].private_ip }
output "volume_id" { value = aws_ebs_volume.data.id }
output "snapshot_id" { value = aws_ebs_snapshot.data.id }
output "ids" { value = aws_instance.web[*].id }
