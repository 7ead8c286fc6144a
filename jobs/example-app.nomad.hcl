# An application that takes its software from Nix volumes instead of its image.
#
# Group "hello": three allocations share the read-only "nix-hello" closure; on
# each node it is realised and staged once, and each allocation gets one mount.
# Group "scratch": two allocations each get a writable /nix of their own.
job "example-app" {
  type        = "service"
  datacenters = ["*"]

  group "hello" {
    count = 3

    volume "nix" {
      type            = "csi"
      source          = "nix-hello"
      read_only       = true
      access_mode     = "multi-node-reader-only"
      attachment_mode = "file-system"
    }

    task "hello" {
      driver = "docker"

      config {
        image   = "busybox:1.36"
        command = "/nix/var/result/bin/hello"
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

  group "scratch" {
    count = 2

    volume "nix" {
      type            = "csi"
      source          = "nix-scratch"
      per_alloc       = true
      read_only       = false
      access_mode     = "single-node-writer"
      attachment_mode = "file-system"
    }

    task "shell" {
      driver = "docker"

      config {
        image   = "busybox:1.36"
        command = "/bin/sh"
        args    = ["-c", "/nix/var/result/bin/hello && touch /nix/scratch-$NOMAD_ALLOC_INDEX && sleep 3600"]
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
