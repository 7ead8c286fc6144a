// `npm run test:image`: the heavy tests that build on the image and the single binary
// (podman, a chroot). `npm test` leaves them out (package.json's ava.files).
export default {
  files: ['dist/test/image/**/*.test.js'],
  timeout: '10m',
  workerThreads: false,
  concurrency: 1,
};
