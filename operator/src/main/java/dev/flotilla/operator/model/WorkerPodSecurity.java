package dev.flotilla.operator.model;

import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;

/**
 * What a worker pod may do beyond serving: nothing. It runs as a fixed non-root user with a
 * read-only root filesystem, no capabilities, no privilege escalation and the runtime's default
 * seccomp profile, and without a service-account token (a worker never calls the Kubernetes API).
 * The one writable path is {@link #TMP_PATH}, an emptyDir: the JVM, Quarkus and the tokenizer
 * library write there (the worker image sets {@code HOME} and {@code DJL_CACHE_DIR} under it).
 *
 * <p>The same settings as the chart's operator and gateway pods ({@code _helpers.tpl}), so every
 * Flotilla pod passes the Kubernetes "restricted" Pod Security Standard.
 */
public final class WorkerPodSecurity {
  /** The user and group the images run as ({@code images/images.properties}). */
  public static final long USER = 10001;

  static final String TMP_VOLUME = "tmp";
  static final String TMP_PATH = "/tmp";
  private static final String RUNTIME_DEFAULT = "RuntimeDefault";

  private WorkerPodSecurity() {}

  static PodSecurityContext pod() {
    return new PodSecurityContextBuilder()
        .withRunAsNonRoot(true)
        .withRunAsUser(USER)
        .withRunAsGroup(USER)
        .withNewSeccompProfile()
        .withType(RUNTIME_DEFAULT)
        .endSeccompProfile()
        .build();
  }

  static SecurityContext container() {
    return new SecurityContextBuilder()
        .withRunAsNonRoot(true)
        .withRunAsUser(USER)
        .withRunAsGroup(USER)
        .withReadOnlyRootFilesystem(true)
        .withAllowPrivilegeEscalation(false)
        .withPrivileged(false)
        .withNewCapabilities()
        .addToDrop("ALL")
        .endCapabilities()
        .withNewSeccompProfile()
        .withType(RUNTIME_DEFAULT)
        .endSeccompProfile()
        .build();
  }

  static Volume tmpVolume() {
    return new VolumeBuilder().withName(TMP_VOLUME).withNewEmptyDir().endEmptyDir().build();
  }

  static VolumeMount tmpMount() {
    return new VolumeMountBuilder().withName(TMP_VOLUME).withMountPath(TMP_PATH).build();
  }
}
