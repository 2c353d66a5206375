package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a worker pod's volumes become directories for a local process. */
class PodVolumesTest {
  static final Path POD_DIR = Path.of("/state/pods/ml_llama-1");
  static final Path CLAIMS = Path.of("/state/pvc");

  static Pod pod() {
    return new PodBuilder()
        .withNewMetadata()
        .withName("llama-1")
        .withNamespace("ml")
        .endMetadata()
        .withNewSpec()
        .addNewVolume()
        .withName("model")
        .withNewPersistentVolumeClaim("weights", true)
        .endVolume()
        .addNewVolume()
        .withName("adapters-team-a")
        .withNewPersistentVolumeClaim("team-a", true)
        .endVolume()
        .addNewVolume()
        .withName("download-cache")
        .withNewEmptyDir()
        .endEmptyDir()
        .endVolume()
        .addNewVolume()
        .withName("mtls")
        .withNewSecret()
        .withSecretName("llama-worker-tls")
        .endSecret()
        .endVolume()
        .endSpec()
        .build();
  }

  static Container container() {
    return new ContainerBuilder()
        .withName("worker")
        .addNewVolumeMount()
        .withName("model")
        .withMountPath("/var/lib/flotilla/pvc/weights")
        .endVolumeMount()
        .addNewVolumeMount()
        .withName("adapters-team-a")
        .withMountPath("/var/lib/flotilla/pvc/team-a")
        .endVolumeMount()
        .addNewVolumeMount()
        .withName("download-cache")
        .withMountPath("/var/cache/flotilla")
        .endVolumeMount()
        .addNewVolumeMount()
        .withName("mtls")
        .withMountPath("/var/run/flotilla/mtls")
        .endVolumeMount()
        .build();
  }

  @Test
  void claimsAreDirectoriesUnderTheClaimsDirAndEmptyDirsUnderThePod() {
    PodVolumes v = PodVolumes.of(pod(), container(), POD_DIR, CLAIMS);

    assertThat(v.claims())
        .isEqualTo(
            Map.of("weights", CLAIMS.resolve("weights"), "team-a", CLAIMS.resolve("team-a")));
    assertThat(v.emptyDirs()).containsExactly(POD_DIR.resolve("volumes/download-cache"));
    assertThat(v.secrets())
        .singleElement()
        .satisfies(s -> assertThat(s.secret()).isEqualTo("llama-worker-tls"));

    // What the operator sets in the worker's environment, as the process here must see it.
    assertThat(v.translate("/var/lib/flotilla/pvc/weights/llama/8b"))
        .isEqualTo("/state/pvc/weights/llama/8b");
    assertThat(v.translate("/var/lib/flotilla/pvc")).isEqualTo("/state/pvc");
    assertThat(v.translate("/var/cache/flotilla"))
        .isEqualTo("/state/pods/ml_llama-1/volumes/download-cache");
    assertThat(v.translate("/var/run/flotilla/mtls"))
        .isEqualTo("/state/pods/ml_llama-1/volumes/mtls");
    // Not above mounts that share one local directory: left as it is.
    assertThat(v.translate("/var")).isEqualTo("/var");
    assertThat(v.translate("/elsewhere")).isEqualTo("/elsewhere");
    assertThat(v.translate("hf://org/repo")).isEqualTo("hf://org/repo");
  }
}
