package dev.flotilla.worker.config;

import dev.flotilla.worker.fetch.Source;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Settings that name local adapter directories ({@code file://}, {@code pvc://} or a plain path),
 * checked at startup. Downloaded sources ({@code hf://}, {@code s3://}) are fetched by LoadAdapter,
 * not listed here.
 */
public final class Sources {
  private Sources() {}

  /**
   * The local directory a source names.
   *
   * @param setting what to name in errors, e.g. {@code FLOTILLA_ADAPTERS_DIR
   *     (flotilla.worker.adapters-dir)}
   */
  public static Path localDirectory(String source, Path pvcRoot, String setting) {
    Source parsed;
    try {
      parsed = Source.parse(source, pvcRoot);
    } catch (IllegalArgumentException e) {
      throw new WorkerConfigException(setting + ": " + e.getMessage(), e);
    }
    if (parsed instanceof Source.Local local) {
      return local.dir();
    }
    throw new WorkerConfigException(
        setting
            + ": '"
            + source
            + "' is downloaded, not a directory here; name it in a LoraAdapter (or a LoadAdapter"
            + " call), which fetches it when it is loaded");
  }

  /** The directory, which must exist and be readable. */
  public static Path existingDirectory(Path dir, String setting) {
    if (!Files.isDirectory(dir)) {
      throw new WorkerConfigException(setting + ": " + dir + " is not a directory");
    }
    if (!Files.isReadable(dir)) {
      throw new WorkerConfigException(setting + ": " + dir + " is not readable");
    }
    return dir;
  }

  /** {@code name=source,name2=source2} into an ordered map; blank entries are skipped. */
  public static Map<String, Path> adapterList(String list, Path pvcRoot, String setting) {
    Map<String, Path> out = new LinkedHashMap<>();
    for (String entry : list.split(",")) {
      String e = entry.trim();
      if (e.isEmpty()) {
        continue;
      }
      int eq = e.indexOf('=');
      if (eq <= 0 || eq == e.length() - 1) {
        throw new WorkerConfigException(setting + ": '" + e + "' is not name=file:///dir");
      }
      String name = e.substring(0, eq).trim();
      Path dir = localDirectory(e.substring(eq + 1), pvcRoot, setting + " entry " + name);
      if (out.put(name, dir) != null) {
        throw new WorkerConfigException(setting + ": adapter '" + name + "' is listed twice");
      }
    }
    return out;
  }

  /** Every subdirectory of {@code dir} that holds an adapter_config.json, by directory name. */
  public static Map<String, Path> adapterDirectory(Path dir, String setting) {
    Map<String, Path> out = new LinkedHashMap<>();
    try (Stream<Path> children = Files.list(dir)) {
      children
          .filter(p -> Files.isRegularFile(p.resolve("adapter_config.json")))
          .sorted()
          .forEach(p -> out.put(p.getFileName().toString(), p.toAbsolutePath().normalize()));
    } catch (java.io.IOException e) {
      throw new WorkerConfigException(setting + ": cannot list " + dir + ": " + e.getMessage(), e);
    }
    return out;
  }
}
