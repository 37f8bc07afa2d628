// Flat config: ESLint's recommended rules plus typescript-eslint's, without type-aware rules
// (tsc --noEmit is the type check; keeping lint syntax-only keeps it fast on 2 cores).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', '.local/', '**/node_modules/', 'k6/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
  {
    files: ['scripts/**', 'tools/**', '**/src/bin/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
)
