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

/**
 * The volumes of a pod's container that this node can give a local process: Secret volumes, each
 * written to {@code <pod dir>/volumes/<volume>}. A process here has no mount namespace, so a path
 * the container would see under a mount path is translated to that directory wherever the
 * container's environment names it ({@link #translate}).
 */
record PodVolumes(List<SecretMounts.Mount> secrets, Map<String, Path> byMountPath) {
  static PodVolumes of(Pod pod, Container container, Path podDir) {
    Map<String, Volume> volumes = new LinkedHashMap<>();
    if (pod.getSpec().getVolumes() != null) {
      pod.getSpec().getVolumes().forEach(v -> volumes.put(v.getName(), v));
    }
    List<SecretMounts.Mount> secrets = new ArrayList<>();
    Map<String, Path> byMountPath = new LinkedHashMap<>();
    List<VolumeMount> mounts =
        container.getVolumeMounts() == null ? List.of() : container.getVolumeMounts();
    for (VolumeMount mount : mounts) {
      Volume volume = volumes.get(mount.getName());
      if (volume == null || volume.getSecret() == null) {
        continue;
      }
      Path dir = podDir.resolve("volumes").resolve(volume.getName());
      secrets.add(
          new SecretMounts.Mount(
              pod.getMetadata().getNamespace(),
              volume.getSecret().getSecretName(),
              Boolean.TRUE.equals(volume.getSecret().getOptional()),
              dir));
      byMountPath.put(trimSlash(mount.getMountPath()), dir);
    }
    return new PodVolumes(List.copyOf(secrets), byMountPath);
  }

  /**
   * {@code value} with a leading mount path (the whole value, or followed by {@code /}) replaced by
   * where that volume is on this machine; the longest mount path wins. Other values are unchanged.
   */
  String translate(String value) {
    if (value == null) {
      return null;
    }
    return byMountPath.entrySet().stream()
        .sorted(
            Comparator.comparingInt((Map.Entry<String, Path> e) -> e.getKey().length()).reversed())
        .filter(e -> value.equals(e.getKey()) || value.startsWith(e.getKey() + "/"))
        .findFirst()
        .map(e -> e.getValue() + value.substring(e.getKey().length()))
        .orElse(value);
  }

  private static String trimSlash(String path) {
    return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
  }
}
