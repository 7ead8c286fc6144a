# The nixmount CSI node plugin on every Nomad client, wired to the cluster cache of
# jobs/nixmount-cache.nomad.hcl: it substitutes from that cache first, pushes what it
# realises there, signed with the cluster key, and trusts only that key and
# cache.nixos.org's. This is jobs/nixmount.nomad.hcl with the cache added (the same job,
# so running this file replaces that one); docs/caches.md, "A cluster cache on Nomad".
#
# The key pair lives in the Nomad variable of this job, which only its tasks can read:
#
#   nix-store --generate-binary-cache-key nixmount-cluster-1 secret public
#   nomad var put nomad/jobs/nixmount cache_secret_key=@secret cache_public_key=@public
#
# Run it with `nomad job run jobs/nixmount-cached.nomad.hcl`. The task mounts the host's
# /nix read-write: nixmount substitutes missing store paths into the node store,
# and keeps its state (views, records) under /nix/var/nixmount, because a view
# is a hardlink farm and must sit on the same filesystem as /nix/store.
job "nixmount" {
  type        = "system"
  datacenters = ["*"]

  group "node" {
    # Prometheus metrics: the container's port 9810 on a port Nomad picks on the client,
    # registered as the service nixmount-metrics in Nomad's own service discovery
    # (Prometheus finds every node's plugin with nomad_sd_configs).
    network {
      port "metrics" {
        to = 9810
      }
    }

    service {
      name     = "nixmount-metrics"
      port     = "metrics"
      provider = "nomad"
      tags     = ["metrics"]
    }

    task "plugin" {
      driver = "docker"

      config {
        image      = "ghcr.io/nixmount/nixmount:0.1.0"
        privileged = true
        ports      = ["metrics"]

        # own-store: on NixOS /nix/store is a read-only bind of itself and hardlinks from it
        # into the state dir would fail (EXDEV); views are linked in a private mount
        # namespace of their own instead. It changes no mount.
        args = [
          "own-store", "--store-dir", "/nix/store", "--",
          "serve",
          "--mode", "node",
          "--orchestrator", "nomad",
          "--node-id", "${node.unique.id}",
          "--stage-publish-base-dir", "/local/csi",
          "--state-dir", "/nix/var/nixmount",
          "--view-idle", "15m",
          "--metrics-address", ":9810",
        ]

        mount {
          type     = "bind"
          source   = "/nix"
          target   = "/nix"
          readonly = false
          bind_options {
            propagation = "rshared"
          }
        }
      }

      # Nomad sets CSI_ENDPOINT=unix:///csi/csi.sock from mount_dir; nixmount reads it.
      csi_plugin {
        id                     = "nixmount"
        type                   = "node"
        mount_dir              = "/csi"
        stage_publish_base_dir = "/local/csi"
        health_timeout         = "30s"
      }

      env {
        NIXMOUNT_PUSH_KEY_FILE = "/secrets/cache-key"
      }

      # The secret half of the cluster key, in the task's secrets/ directory (never in its
      # environment, never given to the cache).
      template {
        destination = "secrets/cache-key"
        perms       = "0400"
        data        = "{{ with nomadVar \"nomad/jobs/nixmount\" }}{{ .cache_secret_key }}{{ end }}"
      }

      # Where the cache runs now (Nomad's service discovery) and the key to trust. When the
      # cache moves, the plugin restarts with its new address; its mounts stay.
      template {
        destination = "secrets/cache.env"
        env         = true
        data        = <<EOT
{{ $cache := "" }}{{ range nomadService "nixmount-cache" }}{{ $cache = printf "http://%s:%d" .Address .Port }}{{ end }}
NIXMOUNT_SUBSTITUTERS="{{ $cache }} https://cache.nixos.org"
NIXMOUNT_PUSH_TO="{{ $cache }}"
NIXMOUNT_TRUSTED_PUBLIC_KEYS="{{ with nomadVar "nomad/jobs/nixmount" }}{{ .cache_public_key }}{{ end }} cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
EOT
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
