// The pages live in ./pages/, one router per page; this path stays what web/app.ts imports.
export { pagesRouter, type PagesBus, type PagesOptions } from './pages/index.ts';
