# Applied against The Cloud by compat/terraform.test.ts: an aws_key_pair and two aws_instance resources (tags, user
# data) in the default VPC, an EBS volume on real LVM attached to the first and snapshotted, and a VPC of its own
# (subnets, security groups with inline rules and rule resources, an ENI, an instance, an internet gateway, a route
# table with a gateway route, another with an aws_route to the ENI, an Elastic IP associated with the instance, and
# a NAT gateway with its own Elastic IP in the public subnet, to which the private subnet's table routes 0.0.0.0/0;
# a secondary IPv4 block with a subnet in it).
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

# A secondary IPv4 block of the VPC with a subnet in it (destroyed before the block).
resource "aws_vpc_ipv4_cidr_block_association" "extra" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.91.0.0/16"
}

resource "aws_subnet" "extra" {
  vpc_id            = aws_vpc_ipv4_cidr_block_association.extra.vpc_id
  cidr_block        = "10.91.1.0/24"
  availability_zone = "us-east-1a"
  tags              = { Name = "tf-extra" }
}

resource "aws_security_group" "app_web" {
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
  source_security_group_id = aws_security_group.app_web.id
  from_port                = -1
  to_port                  = -1
  protocol                 = "icmp"
}

resource "aws_network_interface" "spare" {
  subnet_id         = aws_subnet.data.id
  private_ips       = ["10.90.2.50"]
  security_groups   = [aws_security_group.admin.id]
  source_dest_check = false # a route's target: an appliance that forwards
}

resource "aws_instance" "app" {
  ami                    = data.aws_ami.base.id
  instance_type          = "t3.micro"
  subnet_id              = aws_subnet.app.id
  private_ip             = "10.90.1.10"
  vpc_security_group_ids = [aws_security_group.app_web.id, aws_security_group.admin.id]
  user_data              = "#!/bin/sh\necho terraform-network\n"
  tags                   = { Name = "tf-net" }
}

resource "aws_internet_gateway" "gw" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "tf-gw" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.gw.id
  }
}

resource "aws_route_table_association" "app" {
  subnet_id      = aws_subnet.app.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "data" {
  vpc_id = aws_vpc.main.id
}

resource "aws_route" "via_spare" {
  route_table_id         = aws_route_table.data.id
  destination_cidr_block = "192.0.2.0/24"
  network_interface_id   = aws_network_interface.spare.id
}

resource "aws_route_table_association" "data" {
  subnet_id      = aws_subnet.data.id
  route_table_id = aws_route_table.data.id
}

resource "aws_eip" "app" {
  domain     = "vpc"
  depends_on = [aws_internet_gateway.gw]
}

resource "aws_eip_association" "app" {
  instance_id   = aws_instance.app.id
  allocation_id = aws_eip.app.id
}

resource "aws_eip" "nat" {
  domain     = "vpc"
  depends_on = [aws_internet_gateway.gw]
}

resource "aws_nat_gateway" "main" {
  subnet_id     = aws_subnet.app.id
  allocation_id = aws_eip.nat.id
  tags          = { Name = "tf-nat" }
  depends_on    = [aws_internet_gateway.gw]
}

resource "aws_route" "via_nat" {
  route_table_id         = aws_route_table.data.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.main.id
}

output "private_ips" { value = aws_instance.web[*].private_ip }
output "volume_id" { value = aws_ebs_volume.data.id }
output "snapshot_id" { value = aws_ebs_snapshot.data.id }
output "ids" { value = aws_instance.web[*].id }
output "vpc_id" { value = aws_vpc.main.id }
output "app_id" { value = aws_instance.app.id }
output "app_private_ip" { value = aws_instance.app.private_ip }
output "app_public_ip" { value = aws_eip.app.public_ip }
output "nat_id" { value = aws_nat_gateway.main.id }
output "nat_public_ip" { value = aws_eip.nat.public_ip }
output "extra_subnet_id" { value = aws_subnet.extra.id }
