namespace TodoScale.Application;

// Placeholder so the project builds before its issue fills it; remove when the first real type lands.
internal static class ProjectPlaceholder;
