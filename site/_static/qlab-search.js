/* Search result summaries: Sphinx takes the text of the page's [role="main"] element, which in
   pydata-sphinx-theme also holds the article header (colour-mode labels, buttons) and the in-page
   contents and the print-only title and contents ("Contents", "İçindekiler"). Drop those
   parts before Sphinx extracts the summary. */
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || typeof Search.htmlToText !== "function") return;
  const original = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(".bd-header-article, .bd-sidebar-secondary, .onlyprint, .pst-js-only, .prev-next-area, .bd-footer-article").forEach((el) => el.remove());
    return original(doc.documentElement.outerHTML, anchor);
  };
});
