# The cluster binary cache: one nginx whose WebDAV module stores what nodes push
# (`nix copy --to http://…` uploads with PUT) and serves it to every node (GET).
# nixmount ships no cache server: Nix's HTTP binary cache protocol is plain GET and PUT.
#
# Its files live on the host volume "nixmount-cache" of the client that runs it,
# declared in that client's configuration:
#
#   client {
#     host_volume "nixmount-cache" {
#       path      = "/srv/nixmount-cache"
#       read_only = false
#     }
#   }
#
# Run it with `nomad job run jobs/nixmount-cache.nomad.hcl`, then the node plugin
# wired to it, jobs/nixmount-cached.nomad.hcl (docs/caches.md, "A cluster cache on Nomad").
# The cache never holds the signing key: the trust is in the signatures, not the server.
job "nixmount-cache" {
  type        = "service"
  datacenters = ["*"]

  group "cache" {
    count = 1

    volume "cache" {
      type      = "host"
      source    = "nixmount-cache"
      read_only = false
    }

    network {
      port "http" {
        to = 8080
      }
    }

    # Nodes find the cache by this name in Nomad's service discovery (nomadService).
    # /healthz answers before the first push, when nix-cache-info may not exist yet, and
    # from nginx's event loop while uploads stream to disk: a large push never fails it.
    service {
      name     = "nixmount-cache"
      port     = "http"
      provider = "nomad"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "5s"
      }
    }

    # nginx creates the directories below its root on PUT, not the root itself. The
    # cache's priority in nix-cache-info (30) puts it before cache.nixos.org (40): Nix
    # orders substituters by priority, not by their place in the list.
    task "prepare" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image   = "docker.io/library/nginx:1.27"
        command = "sh"
        args    = ["-c", "mkdir -p /var/cache/nixmount/store && { [ -e /var/cache/nixmount/store/nix-cache-info ] || cp /local/nix-cache-info /var/cache/nixmount/store/; } && chown nginx:nginx /var/cache/nixmount/store /var/cache/nixmount/store/nix-cache-info"]
      }

      volume_mount {
        volume      = "cache"
        destination = "/var/cache/nixmount"
      }

      template {
        destination = "local/nix-cache-info"
        data        = <<EOT
StoreDir: /nix/store
WantMassQuery: 1
Priority: 30
EOT
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "nginx" {
      driver = "docker"

      config {
        image   = "docker.io/library/nginx:1.27"
        command = "nginx"
        args    = ["-c", "/local/nginx.conf", "-g", "daemon off;"]
        ports   = ["http"]
      }

      volume_mount {
        volume      = "cache"
        destination = "/var/cache/nixmount"
      }

      # No size limit (NARs are as large as store paths); request bodies' temp files on
      # the cache's volume, not in the container's filesystem.
      template {
        destination = "local/nginx.conf"
        data        = <<EOT
user nginx;
worker_processes auto;
error_log /dev/stderr warn;
pid /tmp/nginx.pid;
events { worker_connections 1024; }
http {
  access_log /dev/stdout;
  sendfile on;
  client_max_body_size 0;
  client_body_temp_path /var/cache/nixmount/tmp;
  server {
    listen 8080;
    root /var/cache/nixmount/store;
    location = /healthz {
      access_log off;
      return 200 "ok\n";
    }
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
EOT
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
