package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * On a failed test, prints what a person needs to see why (STYLE item 13): every custom resource
 * and the Deployments and pods with their status, then the tail of every log under the fixture's
 * log directory. Finds its fixtures in the test class's {@link Fixture} fields.
 */
final class FailureDump implements TestWatcher {
  /** Something a failed test can dump. */
  interface Fixture {
    KubernetesClient client();

    Path logDir();
  }

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    for (Fixture f : fixtures(context)) {
      StringBuilder out =
          new StringBuilder("\n===== dump after failure of ")
              .append(context.getDisplayName())
              .append('\n');
      try {
        List<HasMetadata> objects = new ArrayList<>();
        for (String kind : List.of("ModelDeployment", "LoraAdapter", "Tenant", "GpuNodePool")) {
          objects.addAll(
              f.client()
                  .genericKubernetesResources("flotilla.dev/v1alpha1", kind)
                  .inAnyNamespace()
                  .list()
                  .getItems());
        }
        objects.addAll(f.client().apps().deployments().inAnyNamespace().list().getItems());
        objects.addAll(f.client().pods().inAnyNamespace().list().getItems());
        for (HasMetadata o : objects) {
          out.append("--- ")
              .append(o.getKind())
              .append(' ')
              .append(o.getMetadata().getNamespace())
              .append('/')
              .append(o.getMetadata().getName())
              .append('\n')
              .append(Serialization.asYaml(o));
        }
      } catch (RuntimeException e) {
        out.append("(could not list resources: ").append(e).append(")\n");
      }
      if (f.logDir() != null && Files.isDirectory(f.logDir())) {
        try (Stream<Path> logs = Files.list(f.logDir())) {
          for (Path log : logs.sorted().toList()) {
            List<String> lines = Files.readAllLines(log);
            out.append("--- log ").append(log.getFileName()).append(" (last 80 lines)\n");
            lines
                .subList(Math.max(0, lines.size() - 80), lines.size())
                .forEach(l -> out.append(l).append('\n'));
          }
        } catch (IOException e) {
          out.append("(could not read logs: ").append(e).append(")\n");
        }
      }
      System.err.println(out);
    }
  }

  private static List<Fixture> fixtures(ExtensionContext context) {
    List<Fixture> found = new ArrayList<>();
    Object instance = context.getTestInstance().orElse(null);
    for (Class<?> c = context.getRequiredTestClass(); c != null; c = c.getSuperclass()) {
      for (Field field : c.getDeclaredFields()) {
        if (!Fixture.class.isAssignableFrom(field.getType())) {
          continue;
        }
        try {
          field.setAccessible(true);
          Object value = field.get(Modifier.isStatic(field.getModifiers()) ? null : instance);
          if (value != null) {
            found.add((Fixture) value);
          }
        } catch (IllegalAccessException e) {
          // not readable: nothing to dump
        }
      }
    }
    return found;
  }
}
