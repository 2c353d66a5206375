package dev.flotilla.worker.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Parses model and adapter sources ({@code file:///dir} or a plain absolute path) into directories.
 */
public final class Sources {
  private Sources() {}

  /**
   * The local directory a source names. {@code pvc://} sources are mounted by the operator and
   * arrive here as {@code file://}; other schemes are not fetched by the worker.
   *
   * @param setting what to name in errors, e.g. {@code FLOTILLA_MODEL_SOURCE
   *     (flotilla.worker.model-source)}
   */
  public static Path directory(String source, String setting) {
    String s = source.trim();
    Path dir;
    if (s.startsWith("file:")) {
      try {
        URI uri = new URI(s);
        if (uri.getPath() == null || uri.getPath().isEmpty()) {
          throw new WorkerConfigException(setting + ": '" + source + "' has no path");
        }
        dir = Path.of(uri.getPath());
      } catch (URISyntaxException e) {
        throw new WorkerConfigException(
            setting + ": '" + source + "' is not a valid file:// URI: " + e.getMessage(), e);
      }
    } else if (s.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
      throw new WorkerConfigException(
          setting
              + ": '"
              + source
              + "' uses a scheme the worker cannot read; give file:///path (pvc:// sources are mounted by the operator)");
    } else {
      dir = Path.of(s);
    }
    return dir.toAbsolutePath().normalize();
  }

  /** The directory, which must exist and be readable. */
  public static Path existingDirectory(String source, String setting) {
    Path dir = directory(source, setting);
    if (!Files.isDirectory(dir)) {
      throw new WorkerConfigException(setting + ": " + dir + " is not a directory");
    }
    if (!Files.isReadable(dir)) {
      throw new WorkerConfigException(setting + ": " + dir + " is not readable");
    }
    return dir;
  }

  /** {@code name=source,name2=source2} into an ordered map; blank entries are skipped. */
  public static Map<String, Path> adapterList(String list, String setting) {
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
      if (out.put(name, directory(e.substring(eq + 1), setting + " entry " + name)) != null) {
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
