# An application taking /nix from the host volume of jobs/host-volume-hello.volume.hcl.
# Nomad places it on a node where that volume was created, and bind-mounts the
# volume's path into the task; the path itself refuses writes.
job "host-volume-app" {
  type        = "service"
  datacenters = ["*"]

  group "hello" {
    count = 1

    volume "nix" {
      type            = "host"
      source          = "nix-hello-host"
      read_only       = true
      access_mode     = "single-node-reader-only"
      attachment_mode = "file-system"
    }

    task "hello" {
      driver = "docker"

      config {
        image   = "busybox:1.36"
        command = "/bin/sh"
        args    = ["-c", "/nix/var/result/bin/hello && sleep 3600"]
      }

      volume_mount {
        volume      = "nix"
        destination = "/nix"
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
