// jest runs the ESM example as is (no transform).
export default { testEnvironment: 'node', transform: {}, testMatch: ['**/*.jest.mjs'] };
