package dev.flotilla.api.crd;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates files of the repository (crds/, examples/) from a module's tests. */
final class RepositoryFiles {
  private RepositoryFiles() {}

  static Path root() {
    String configured = System.getProperty("flotilla.repo.root");
    Path start = configured != null ? Path.of(configured) : Path.of("").toAbsolutePath();
    for (Path p = start.toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("crds")) && Files.exists(p.resolve("pom.xml"))) {
        return p;
      }
    }
    throw new IllegalStateException("repository root with crds/ not found above " + start);
  }

  /** Where the Fabric8 CRD generator writes during this module's build. */
  static Path generatedCrds() {
    return Path.of("target", "classes", "META-INF", "fabric8").toAbsolutePath();
  }
}
