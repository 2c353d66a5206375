package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Secret volumes of the local processes, kept in line with their Secrets as the kubelet keeps them:
 * written when mounted, then looked at every second and rewritten (atomically, see {@link
 * SecretVolume}) when the Secret changed. That is how a worker, the gateway and the operator here
 * see a renewed certificate or a new trust bundle without a restart.
 */
final class SecretMounts implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(SecretMounts.class.getName());

  /** One Secret mounted at {@code dir}; a missing optional Secret leaves the directory empty. */
  record Mount(String namespace, String secret, boolean optional, Path dir) {}

  private record Mounted(Mount mount, SecretVolume volume) {}

  private final KubernetesClient client;
  private final Map<String, List<Mounted>> byOwner = new ConcurrentHashMap<>();
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "secret-volumes");
            t.setDaemon(true);
            return t;
          });

  SecretMounts(KubernetesClient client) {
    this.client = client;
  }

  SecretMounts start() {
    loop.scheduleWithFixedDelay(this::refreshAll, 1, 1, TimeUnit.SECONDS);
    return this;
  }

  /**
   * Mounts {@code owner}'s Secrets now and keeps them current. Returns the first Secret that is
   * required and missing (the process must not start yet, as a pod waits in ContainerCreating), or
   * empty when all are in place.
   */
  Optional<String> mount(String owner, List<Mount> mounts) throws IOException {
    List<Mounted> mounted =
        mounts.stream().map(m -> new Mounted(m, new SecretVolume(m.dir()))).toList();
    byOwner.put(owner, mounted);
    for (Mounted m : mounted) {
      if (!refresh(m) && !m.mount().optional()) {
        return Optional.of(m.mount().namespace() + "/" + m.mount().secret());
      }
    }
    return Optional.empty();
  }

  void unmount(String owner) {
    byOwner.remove(owner);
  }

  /** Writes the Secret if it exists; false when it does not. */
  private boolean refresh(Mounted m) throws IOException {
    Secret secret;
    try {
      secret =
          client.secrets().inNamespace(m.mount().namespace()).withName(m.mount().secret()).get();
    } catch (KubernetesClientException e) {
      return m.volume().mounted();
    }
    if (secret == null) {
      return false;
    }
    m.volume().write(secret);
    return true;
  }

  private void refreshAll() {
    for (List<Mounted> mounts : byOwner.values()) {
      for (Mounted m : mounts) {
        try {
          refresh(m);
        } catch (IOException | UncheckedIOException e) {
          LOG.log(Level.WARNING, "Secret volume " + m.mount() + ": " + e.getMessage(), e);
        }
      }
    }
  }

  @Override
  public void close() {
    loop.shutdownNow();
  }
}
