package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The volumes of a pod's container that this node can give a local process: Secret volumes, each
 * written to {@code <pod dir>/volumes/<volume>}; emptyDir volumes, a directory there too; and
 * PersistentVolumeClaims, each a directory {@code <claims dir>/<claim>} that holds the claim's
 * files in local mode (read-only mounts are not enforced: a process here has the user's rights). A
 * process here has no mount namespace, so a path the container would see under a mount path is
 * translated to that directory wherever the container's environment names it ({@link #translate}).
 *
 * @param claims the claims' directories, by claim name
 * @param emptyDirs the emptyDir volumes' directories
 */
record PodVolumes(
    List<SecretMounts.Mount> secrets,
    Map<String, Path> claims,
    List<Path> emptyDirs,
    Map<String, Path> byMountPath) {
  static PodVolumes of(Pod pod, Container container, Path podDir, Path claimsDir) {
    Map<String, Volume> volumes = new LinkedHashMap<>();
    if (pod.getSpec().getVolumes() != null) {
      pod.getSpec().getVolumes().forEach(v -> volumes.put(v.getName(), v));
    }
    List<SecretMounts.Mount> secrets = new ArrayList<>();
    Map<String, Path> claims = new LinkedHashMap<>();
    List<Path> emptyDirs = new ArrayList<>();
    Map<String, Path> byMountPath = new LinkedHashMap<>();
    List<VolumeMount> mounts =
        container.getVolumeMounts() == null ? List.of() : container.getVolumeMounts();
    for (VolumeMount mount : mounts) {
      Volume volume = volumes.get(mount.getName());
      if (volume == null) {
        continue;
      }
      Path dir;
      if (volume.getSecret() != null) {
        dir = podDir.resolve("volumes").resolve(volume.getName());
        secrets.add(
            new SecretMounts.Mount(
                pod.getMetadata().getNamespace(),
                volume.getSecret().getSecretName(),
                Boolean.TRUE.equals(volume.getSecret().getOptional()),
                dir));
      } else if (volume.getEmptyDir() != null) {
        dir = podDir.resolve("volumes").resolve(volume.getName());
        emptyDirs.add(dir);
      } else if (volume.getPersistentVolumeClaim() != null) {
        String claim = volume.getPersistentVolumeClaim().getClaimName();
        dir = claimsDir.resolve(claim);
        claims.put(claim, dir);
      } else {
        continue;
      }
      String subPath = mount.getSubPath() == null ? "" : mount.getSubPath();
      byMountPath.put(
          trimSlash(mount.getMountPath()), subPath.isEmpty() ? dir : dir.resolve(subPath));
    }
    return new PodVolumes(List.copyOf(secrets), claims, List.copyOf(emptyDirs), byMountPath);
  }

  /**
   * {@code value} with a leading mount path (the whole value, or followed by {@code /}) replaced by
   * where that volume is on this machine; the longest mount path wins. A directory above mount
   * paths (the root the worker finds its claims under, say) is translated too when every mount
   * below it sits, under the same name, in one directory here. Other values are unchanged.
   */
  String translate(String value) {
    if (value == null) {
      return null;
    }
    Optional<String> mounted =
        byMountPath.entrySet().stream()
            .sorted(
                Comparator.comparingInt((Map.Entry<String, Path> e) -> e.getKey().length())
                    .reversed())
            .filter(e -> value.equals(e.getKey()) || value.startsWith(e.getKey() + "/"))
            .findFirst()
            .map(e -> e.getValue() + value.substring(e.getKey().length()));
    return mounted.or(() -> parentOfMounts(value)).orElse(value);
  }

  private Optional<String> parentOfMounts(String value) {
    String dir = trimSlash(value);
    if (!dir.startsWith("/")) {
      return Optional.empty();
    }
    Path common = null;
    for (Map.Entry<String, Path> e : byMountPath.entrySet()) {
      if (!e.getKey().startsWith(dir + "/")) {
        continue;
      }
      String rest = e.getKey().substring(dir.length() + 1);
      Path local = e.getValue();
      if (!local.endsWith(rest)) {
        return Optional.empty();
      }
      Path base = local;
      for (int i = 0; i < Path.of(rest).getNameCount(); i++) {
        base = base.getParent();
      }
      if (common != null && !common.equals(base)) {
        return Optional.empty();
      }
      common = base;
    }
    return Optional.ofNullable(common).map(Path::toString);
  }

  private static String trimSlash(String path) {
    return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
  }
}
