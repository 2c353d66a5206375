package dev.flotilla.chart;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.ConfigMappings;
import io.smallrye.config.common.utils.StringUtil;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.eclipse.microprofile.config.spi.Converter;

/**
 * The environment variables a component's {@code @ConfigMapping} interface reads, taken from the
 * interface itself: its sources are compiled from the repository (chart-tests build no other
 * module) and SmallRye, which Quarkus reads configuration with, lists the property names. SmallRye
 * looks a property up in the environment under its name with every character other than a letter or
 * digit replaced by {@code _}, upper-cased ({@code flotilla.operator.leader-election.enabled} is
 * {@code FLOTILLA_OPERATOR_LEADER_ELECTION_ENABLED}).
 */
final class DeclaredSettings {
  private DeclaredSettings() {}

  /** What the operator reads: {@code OperatorSettings} and the types beside it. */
  static Set<String> operator() {
    return envNames(
        "dev.flotilla.operator.config.OperatorSettings",
        "operator/src/main/java/dev/flotilla/operator/config");
  }

  /** What the gateway reads: {@code GatewayConfig}. */
  static Set<String> gateway() {
    return envNames(
        "dev.flotilla.gateway.app.GatewayConfig",
        "gateway/src/main/java/dev/flotilla/gateway/app/GatewayConfig.java");
  }

  /**
   * @param sources a source file, or a folder whose .java files are compiled together
   */
  private static Set<String> envNames(String className, String sources) {
    try {
      Path classes = Files.createDirectories(Path.of("target", "declared-settings", className));
      compile(FlotillaChart.repoRoot().resolve(sources), classes);
      try (URLClassLoader loader =
          new URLClassLoader(
              new URL[] {classes.toUri().toURL()}, DeclaredSettings.class.getClassLoader())) {
        Class<?> mapping = loader.loadClass(className);
        String prefix = mapping.getAnnotation(ConfigMapping.class).prefix();
        return ConfigMappings.getProperties(new ConfigMappings.ConfigClass(mapping, prefix))
            .keySet()
            .stream()
            .map(name -> StringUtil.replaceNonAlphanumericByUnderscores(name).toUpperCase())
            .collect(Collectors.toCollection(TreeSet::new));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void compile(Path sources, Path classes) throws IOException {
    List<Path> files;
    try (Stream<Path> listed =
        Files.isDirectory(sources) ? Files.list(sources) : Stream.of(sources)) {
      files = listed.filter(f -> f.toString().endsWith(".java")).toList();
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    StringWriter diagnostics = new StringWriter();
    try (StandardJavaFileManager fileManager =
        javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
      boolean compiled =
          javac
              .getTask(
                  diagnostics,
                  fileManager,
                  null,
                  List.of(
                      "-d", classes.toString(), "-proc:none", "-classpath", annotationClasspath()),
                  null,
                  fileManager.getJavaFileObjectsFromPaths(files))
              .call();
      if (!compiled) {
        throw new IllegalStateException(
            "cannot compile " + sources + " on its own:\n" + diagnostics);
      }
    }
  }

  /** SmallRye Config and the MicroProfile Config API: all a config interface may import. */
  private static String annotationClasspath() {
    return Stream.of(ConfigMapping.class, StringUtil.class, Converter.class)
        .map(DeclaredSettings::jarOf)
        .collect(Collectors.joining(java.io.File.pathSeparator));
  }

  private static String jarOf(Class<?> type) {
    try {
      return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
