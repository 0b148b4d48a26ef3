// Vite's CSS imports, for the type checker.
declare module '*.css'
